"""Training speed: the lecture preset through core.training.train vs a plain model.fit.

Both train the same network (784 -> 64 tanh -> 10, SGD 0.5, batch 32) on the
same digits in the same process, one after the other; the figure is the ratio
of their samples per second. Target: >= 3x.

    MNIST_PATH=../shared/data/mnist_data.npz python bench/train_speed.py [--epochs 5]
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from core.data import load_mnist, normalize_images  # noqa: E402
from core.models import build_model, preset  # noqa: E402
from core.training import train  # noqa: E402

TARGET_RATIO = 3.0


def plain_fit_samples_per_second(data, epochs: int) -> float:
    """Keras defaults: compile, then model.fit(x, y, batch_size=32), one step per call."""
    import keras

    config = preset("lecture")
    model = build_model(config)
    model.compile(
        optimizer=keras.optimizers.SGD(config.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    images = normalize_images(data.x_train)
    started = time.perf_counter()
    model.fit(images, data.y_train, batch_size=32, epochs=epochs, verbose=0)
    return epochs * len(images) / (time.perf_counter() - started)


def engine_samples_per_second(data, epochs: int) -> float:
    """core.training.train, every batch's loss recorded; timed like the baseline, compile included."""
    config = preset("lecture").replace(epochs=epochs)
    started = time.perf_counter()
    result = train(config, data)
    seconds = time.perf_counter() - started - _evaluation_seconds(result, data)
    return result.steps * config.batch_size / seconds


def _evaluation_seconds(result, data) -> float:
    """train() ends by measuring train and test accuracy, which fit does not do: time it and take it off."""
    from core.training import evaluate_accuracy

    started = time.perf_counter()
    evaluate_accuracy(result.model, data.x_train, data.y_train)
    evaluate_accuracy(result.model, data.x_test, data.y_test)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="epochs for both (the lecture trains 5)")
    parser.add_argument("--data", default=None, help="MNIST file; default: MNIST_PATH, else the usual sources")
    args = parser.parse_args()
    data = load_mnist(args.data)
    print(f"data: {data.description}")
    baseline = plain_fit_samples_per_second(data, args.epochs)
    engine = engine_samples_per_second(data, args.epochs)
    ratio = engine / baseline
    print(f"plain model.fit (batch 32, Keras defaults): {baseline:,.0f} samples/s")
    print(f"core.training.train (every batch's loss kept): {engine:,.0f} samples/s")
    print(f"speed ratio: {ratio:.2f}x (target >= {TARGET_RATIO:g}x) {'PASS' if ratio >= TARGET_RATIO else 'FAIL'}")
    return 0 if ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
