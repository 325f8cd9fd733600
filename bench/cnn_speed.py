"""CNN speed: the cnn and quick-cnn presets vs the Keras "simple MNIST convnet" example, in one run.

The reference is keras-io's example (examples/vision/mnist_convnet.py): Conv2D 32 3x3 relu,
MaxPool 2, Conv2D 64 3x3 relu, MaxPool 2, Flatten, Dropout 0.5, Dense 10 softmax; Adam,
batch 128, 10% of the training digits held out for validation, ``model.fit`` then
``model.evaluate``; timed over fit + evaluate, as the example runs them. Its 12 epochs reach
about 99.25%. Each preset is timed over ``core.training.train`` as a whole (building, compiling,
training, and measuring train and test accuracy) on the same digits in the same process.

Targets (issue 7), as a share of the reference's time and a test accuracy:
  cnn        faster than the reference, >= 99.5%
  quick-cnn  at most 1/6 of the reference's time, >= 99.0%
and for each preset, the Train page's estimate (core.training.estimate, calibrated before the run) within
ESTIMATE_FACTOR of the run's real time.

    python bench/cnn_speed.py --data ../shared/data/mnist_data.npz [--presets cnn,quick-cnn] [--reference-epochs 12]

An AVX2-only machine (no AVX-512) can be imitated on a newer one with
``ONEDNN_MAX_CPU_ISA=AVX2 python bench/cnn_speed.py ...``: oneDNN's convolutions then use AVX2 only.
"""

from __future__ import annotations

import argparse
import sys
import time


from core.data.mnist import load_mnist, normalize_images  # noqa: E402
from core.model.config import preset  # noqa: E402

# preset -> (largest share of the reference's wall time, lowest test accuracy)
TARGETS = {"cnn": (1.0, 0.995), "quick-cnn": (1 / 6, 0.990)}
ESTIMATE_FACTOR = 2.0  # the estimate may be this far off either way


def reference_run(data, epochs: int) -> tuple[float, float]:
    """keras-io's simple MNIST convnet: (seconds for fit + evaluate, test accuracy)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    x_train = normalize_images(data.x_train)[..., None]  # (N, 28, 28, 1) floats in [0, 1]
    x_test = normalize_images(data.x_test)[..., None]
    y_train = keras.utils.to_categorical(data.y_train, 10)
    y_test = keras.utils.to_categorical(data.y_test, 10)
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    started = time.perf_counter()
    model.fit(x_train, y_train, batch_size=128, epochs=epochs, validation_split=0.1, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return time.perf_counter() - started, float(accuracy)


def preset_run(name: str, data) -> tuple[float, float, float]:
    """core.training.train on the preset: (wall seconds, test accuracy, the estimate made before it)."""
    from core.training.estimate import estimate_seconds
    from core.training.loop import train

    estimate = estimate_seconds(preset(name), len(data.x_train), len(data.x_test))
    result = train(preset(name), data)
    return result.wall_seconds, result.test_accuracy, estimate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="cnn,quick-cnn", help="comma-separated presets to time")
    parser.add_argument("--reference-epochs", type=int, default=12, help="epochs of the Keras example")
    parser.add_argument("--data", default=None, help="MNIST file; default: MNIST_PATH, else the usual sources")
    args = parser.parse_args()
    names = [name.strip() for name in args.presets.split(",") if name.strip()]
    if not names or any(name not in TARGETS for name in names):
        parser.error(f"--presets takes names from {', '.join(TARGETS)}; got {args.presets!r}")
    data = load_mnist(args.data)
    print(f"data: {data.description}")
    reference_seconds, reference_accuracy = reference_run(data, args.reference_epochs)
    print(f"Keras simple convnet, {args.reference_epochs} epochs (fit + evaluate): "
          f"{reference_seconds:.1f} s, test accuracy {reference_accuracy:.4f}")
    passed = True
    for name in names:
        seconds, accuracy, estimate = preset_run(name, data)
        ratio, off = seconds / reference_seconds, max(estimate / seconds, seconds / estimate)
        share, lowest = TARGETS[name]
        ok, estimate_ok = ratio <= share and accuracy >= lowest, off <= ESTIMATE_FACTOR
        passed = passed and ok and estimate_ok
        print(f"{name}: {seconds:.1f} s, test accuracy {accuracy:.4f}; time ratio {ratio:.3f} of the reference "
              f"(target <= {share:.3f}, accuracy >= {lowest:.3f}) {'PASS' if ok else 'FAIL'}")
        print(f"{name}: estimated {estimate:.1f} s before the run, off by {off:.2f}x "
              f"(target <= {ESTIMATE_FACTOR:g}x) {'PASS' if estimate_ok else 'FAIL'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
