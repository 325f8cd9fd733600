"""CNN speed: the cnn and quick-cnn presets vs the Keras "simple MNIST convnet" example, as whole processes.

The reference is keras-io's example (examples/vision/mnist_convnet.py): Conv2D 32 3x3 relu,
MaxPool 2, Conv2D 64 3x3 relu, MaxPool 2, Flatten, Dropout 0.5, Dense 10 softmax; Adam,
batch 128, 10% of the training digits held out for validation, ``model.fit`` then
``model.evaluate``, 12 epochs, about 99.25%. Each side is timed as a user meets it, a whole process from
its start to its exit: the reference as ``python bench/cnn_speed.py --reference-only`` (start Python,
import Keras, read the digits, fit, evaluate), each preset as ``python -m core train --preset NAME`` (start
Python, import TensorFlow, read the digits, the estimate's calibration, training, the train and test
accuracy). One after the other on the same digits.

Targets (issues 7 and 19), as a share of the reference's whole process and a test accuracy:
  cnn        faster than the reference, >= 99.5%
  quick-cnn  at most 1/6 of the reference's time, >= 99.0%
and for each preset, the estimate the command prints first within ESTIMATE_FACTOR of its training's time
(the "trained N steps in X s" line).

    python bench/cnn_speed.py --data ../shared/data/mnist_data.npz [--presets cnn,quick-cnn] [--reference-epochs 12]

An AVX2-only machine (no AVX-512) can be imitated on a newer one with
``ONEDNN_MAX_CPU_ISA=AVX2 python bench/cnn_speed.py ...``: oneDNN's convolutions then use AVX2 only.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

from core.data.mnist import load_mnist, normalize_images

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


def whole_process(command: list[str], data: str | None) -> tuple[float, str]:
    """(wall seconds from start to exit, its output) of ``command``; raises when it fails."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **({"MNIST_PATH": data} if data else {})}
    started = time.perf_counter()
    finished = subprocess.run(command, capture_output=True, text=True, env=environment)
    seconds = time.perf_counter() - started
    if finished.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{finished.stderr[-2000:]}")
    return seconds, finished.stdout


def estimate_in_seconds(output: str) -> float:
    """The seconds of the command's "estimate: about 15 s here" (or "2 min", "1.5 h")."""
    number, unit = re.search(r"estimate: about ([\d.]+) (s|min|h) here", output).groups()
    return float(number) * {"s": 1, "min": 60, "h": 3600}[unit]


def reference_only(data_path: str | None, epochs: int) -> int:
    """The reference's whole process (this script run with --reference-only): prints its accuracy."""
    data = load_mnist(data_path)
    _, accuracy = reference_run(data, epochs)
    print(f"reference_accuracy={accuracy:.4f}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="cnn,quick-cnn", help="comma-separated presets to time")
    parser.add_argument("--reference-epochs", type=int, default=12, help="epochs of the Keras example")
    parser.add_argument("--data", default=os.environ.get("MNIST_PATH"), help="MNIST file; default: MNIST_PATH")
    parser.add_argument("--reference-only", action="store_true", help="run only the reference (the timed process)")
    args = parser.parse_args()
    if args.reference_only:
        return reference_only(args.data, args.reference_epochs)
    names = [name.strip() for name in args.presets.split(",") if name.strip()]
    if not names or any(name not in TARGETS for name in names):
        parser.error(f"--presets takes names from {', '.join(TARGETS)}; got {args.presets!r}")
    print(f"data: {args.data or 'the usual sources'}")
    reference_seconds, output = whole_process(
        [sys.executable, __file__, "--reference-only", "--reference-epochs", str(args.reference_epochs)], args.data)
    reference_accuracy = float(re.search(r"reference_accuracy=([\d.]+)", output).group(1))
    print(f"Keras simple convnet, {args.reference_epochs} epochs, whole process: {reference_seconds:.1f} s, "
          f"test accuracy {reference_accuracy:.4f}")
    passed = True
    for name in names:
        seconds, output = whole_process([sys.executable, "-m", "core", "train", "--preset", name], args.data)
        accuracy = float(re.search(r"test_accuracy=([\d.]+)", output).group(1))
        trained = float(re.search(r"trained \d+ steps in ([\d.]+) s", output).group(1))
        estimate = estimate_in_seconds(output)
        ratio, off = seconds / reference_seconds, max(estimate / trained, trained / estimate)
        share, lowest = TARGETS[name]
        ok, estimate_ok = ratio <= share and accuracy >= lowest, off <= ESTIMATE_FACTOR
        passed = passed and ok and estimate_ok
        print(f"{name}: whole process {seconds:.1f} s (training {trained:.1f} s), test accuracy {accuracy:.4f}; "
              f"{ratio:.3f} of the reference (target <= {share:.3f}, accuracy >= {lowest:.3f}) "
              f"{'PASS' if ok else 'FAIL'}")
        print(f"{name}: estimated {estimate:g} s from its first steps, off by {off:.2f}x "
              f"(target <= {ESTIMATE_FACTOR:g}x) {'PASS' if estimate_ok else 'FAIL'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
