"""Prediction latency: one drawn digit through the per-stroke path vs Keras' model.predict.

The per-stroke path is core.predict.predict_drawing: canvas_to_mnist on a
280x280 RGBA canvas, then predict_proba (a direct model call). The baseline
is model.predict on the same already-preprocessed digit, so the baseline
does less work. Both run in the same process, one after the other, after a
warm-up. Target: the per-stroke path's 95th percentile <= 5 ms.

    MNIST_PATH=../shared/data/mnist_data.npz python bench/predict_latency.py [--iterations 300]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from core.data import load_mnist  # noqa: E402
from core.models import preset  # noqa: E402
from core.predict import predict_drawing  # noqa: E402
from core.preprocess import canvas_to_mnist  # noqa: E402
from core.training import train  # noqa: E402

TARGET_P95_MS = 5.0
WARM_UP = 20


def drawn_canvas() -> np.ndarray:
    """(280, 280, 4) uint8: a '4' in white 18-pixel strokes on black, as the drawing widget returns it."""
    from PIL import Image, ImageDraw

    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    pen = ImageDraw.Draw(canvas)
    white = (255, 255, 255, 255)
    pen.line([(150, 40), (70, 170), (215, 170)], fill=white, width=18, joint="curve")
    pen.line([(175, 95), (165, 250)], fill=white, width=18)
    return np.asarray(canvas)


def milliseconds(call, iterations: int) -> np.ndarray:
    """Wall time of each of ``iterations`` calls, after WARM_UP untimed ones."""
    for _ in range(WARM_UP):
        call()
    times = np.empty(iterations)
    for index in range(iterations):
        started = time.perf_counter()
        call()
        times[index] = (time.perf_counter() - started) * 1000
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=300, help="timed calls of each path")
    parser.add_argument("--epochs", type=int, default=1, help="training epochs (latency does not depend on them)")
    parser.add_argument("--data", default=None, help="MNIST file; default: MNIST_PATH, else the usual sources")
    args = parser.parse_args()

    data = load_mnist(args.data)
    print(f"data: {data.description}")
    result = train(preset("lecture").replace(epochs=args.epochs), data)
    print(f"model: lecture preset, {args.epochs} epoch(s), test accuracy {result.test_accuracy:.4f}")
    model = result.model
    canvas = drawn_canvas()
    digit = canvas_to_mnist(canvas)[None]  # (1, 28, 28), the input model.predict gets

    _, probabilities = predict_drawing(model, canvas)
    print(f"drawn '4' read as {int(np.argmax(probabilities))} (probability {probabilities.max():.3f})")
    stroke = milliseconds(lambda: predict_drawing(model, canvas), args.iterations)
    keras_predict = milliseconds(lambda: model.predict(digit, verbose=0), args.iterations)

    p50, p95 = np.percentile(stroke, [50, 95])
    predict_p50, predict_p95 = np.percentile(keras_predict, [50, 95])
    print(f"per-stroke path (canvas_to_mnist + predict_proba), {args.iterations} runs: "
          f"p50 {p50:.2f} ms, p95 {p95:.2f} ms")
    print(f"model.predict on the preprocessed digit, {args.iterations} runs: "
          f"p50 {predict_p50:.2f} ms, p95 {predict_p95:.2f} ms")
    print(f"model.predict / per-stroke path: {predict_p50 / p50:.1f}x at p50, {predict_p95 / p95:.1f}x at p95")
    # Other programs on the machine stretch the slow tail most: say how busy it was.
    print(f"machine: {os.cpu_count()} CPUs, load average over the last minute {os.getloadavg()[0]:.1f}")
    passed = p95 <= TARGET_P95_MS
    print(f"per-stroke p95 {p95:.2f} ms (target <= {TARGET_P95_MS:g} ms) {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
