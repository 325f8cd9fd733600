"""Training speed: the lecture preset through core.training.train vs a plain model.fit; the estimate; Stop.

Both train the same network (784 -> 64 tanh -> 10, SGD 0.5, batch 32) on the
same digits in the same process, one after the other; the figure is the ratio
of their samples per second. Target: >= 3x. Two more figures from the same run:
- the Train page's estimate (core.training.estimate) against the real run's wall time: within 2x either way;
- Stop: from TrainingJob.stop() to the run leaving its training state: within 1 s. The chunk of
  steps in progress ends first (core.training.loop.CHUNK_SECONDS, at most MAX_CHUNK_STEPS steps).

    MNIST_PATH=../shared/data/mnist_data.npz python bench/train_speed.py [--epochs 5]
"""

from __future__ import annotations

import argparse
import sys
import time

from core.data.mnist import load_mnist, normalize_images  # noqa: E402
from core.model.config import preset  # noqa: E402
from core.model.network import build_model  # noqa: E402
from core.training.estimate import estimate_seconds  # noqa: E402
from core.training.job import TrainingJob  # noqa: E402
from core.training.loop import train  # noqa: E402
from core.training.progress import RunState  # noqa: E402

TARGET_RATIO = 3.0
ESTIMATE_FACTOR = 2.0  # the estimate may be this far off either way
STOP_SECONDS = 1.0  # Stop is honoured within a second (issue 1)


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


def engine_run(data, epochs: int) -> tuple[float, float, float]:
    """core.training.train, every batch's loss recorded; timed like the baseline, compile included.

    Returns (samples per second without the final accuracies, the whole run's wall seconds, the estimate
    the Train page would have shown before it).
    """
    config = preset("lecture").replace(epochs=epochs)
    estimate = estimate_seconds(config, len(data.x_train), len(data.x_test))
    started = time.perf_counter()
    result = train(config, data)
    wall = time.perf_counter() - started
    seconds = wall - _evaluation_seconds(result, data)
    return result.steps * config.batch_size / seconds, wall, estimate


def stop_seconds(data) -> float:
    """Seconds from TrainingJob.stop() to the run leaving its training state, in a run far longer than that."""
    job = TrainingJob(preset("lecture").replace(epochs=50), data)
    job.start()
    try:
        job.wait(lambda progress: progress.step > 0 or progress.done)
        asked = time.perf_counter()
        job.stop()
        job.wait(lambda progress: progress.state != RunState.TRAINING)
        return time.perf_counter() - asked
    finally:
        job.stop()
        job.wait()


def _evaluation_seconds(result, data) -> float:
    """train() ends by measuring train and test accuracy, which fit does not do: time it and take it off."""
    from core.evaluation.metrics import evaluate_accuracy

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
    engine, wall, estimate = engine_run(data, args.epochs)
    stop = stop_seconds(data)
    ratio, off = engine / baseline, max(estimate / wall, wall / estimate)
    checks = {
        "speed": ratio >= TARGET_RATIO,
        "estimate": off <= ESTIMATE_FACTOR,
        "stop": stop <= STOP_SECONDS,
    }
    print(f"plain model.fit (batch 32, Keras defaults): {baseline:,.0f} samples/s")
    print(f"core.training.train (every batch's loss kept): {engine:,.0f} samples/s")
    print(f"speed ratio: {ratio:.2f}x (target >= {TARGET_RATIO:g}x) {'PASS' if checks['speed'] else 'FAIL'}")
    print(f"estimate before the run: {estimate:.1f} s, the run: {wall:.1f} s, off by {off:.2f}x "
          f"(target <= {ESTIMATE_FACTOR:g}x) {'PASS' if checks['estimate'] else 'FAIL'}")
    print(f"Stop honoured after {stop * 1000:.0f} ms (target <= {STOP_SECONDS * 1000:.0f} ms) "
          f"{'PASS' if checks['stop'] else 'FAIL'}")
    print("PASS" if all(checks.values()) else f"FAIL: {', '.join(name for name, ok in checks.items() if not ok)}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
