"""Prediction latency: one drawn digit through the per-stroke path vs Keras' model.predict.

The per-stroke path is what the Draw page runs when the canvas sends a stroke:
core.model.predict.predict_canvas_json on the canvas's Fabric JSON (here a
point every 2 pixels): the strokes read out of it and drawn back into the
280x280 frame (core.drawing.strokes), then canvas_to_mnist and predict_proba,
a direct model call. The baseline is
model.predict on the same already-preprocessed digit, so the baseline does
less work. Both run in the same process after a warm-up, in turns of
BLOCK calls each, so that a slower spell of the machine slows both alike
(on a 2-core AMD EPYC VM the same code's per-stroke median drifted from 2.2
to 3.9 ms between runs a minute apart); within a turn the caches stay as a
pen moving over the canvas keeps them. Target: the per-stroke path at least
15x faster than model.predict (medians), so the guess never waits on the
model.

    MNIST_PATH=../shared/data/mnist_data.npz python bench/predict_latency.py [--iterations 300]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from core.data.mnist import load_mnist  # noqa: E402
from core.drawing.preprocess import canvas_to_mnist  # noqa: E402
from core.drawing.strokes import canvas_json, rasterize_strokes  # noqa: E402
from core.model.config import preset  # noqa: E402
from core.model.predict import predict_canvas_json  # noqa: E402
from core.training.loop import train  # noqa: E402

TARGET_RATIO = 15.0
WARM_UP = 20
BLOCK = 30  # calls in one turn: ten turns each over the default 300 calls
# Fabric's pencil keeps a point whenever the pen has moved a pixel or two; a mouse reports every few pixels.
POINT_SPACING = 2.0


def drawn_strokes() -> list[dict]:
    """A '4' in two 18-pixel strokes, a point every POINT_SPACING pixels along each."""
    return [{"width": 18, "points": _along([(150, 40), (70, 170), (215, 170)])},
            {"width": 18, "points": _along([(175, 95), (165, 250)])}]


def _along(corners: list[tuple[float, float]]) -> list[float]:
    """[x0, y0, x1, y1, ...]: points every POINT_SPACING pixels along the polyline through ``corners``."""
    points = [corners[0]]
    for (x0, y0), (x1, y1) in zip(corners, corners[1:]):
        count = max(1, round(np.hypot(x1 - x0, y1 - y0) / POINT_SPACING))
        points += [(x0 + (x1 - x0) * step / count, y0 + (y1 - y0) * step / count) for step in range(1, count + 1)]
    return [round(value, 1) for point in points for value in point]


def milliseconds_in_turns(first, second, iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """Wall times of ``iterations`` calls each of ``first`` and ``second``, after WARM_UP untimed calls of
    each: BLOCK calls of one, then BLOCK of the other, and so on."""
    for _ in range(WARM_UP):
        first()
        second()
    times = np.empty((2, iterations))
    for start in range(0, iterations, BLOCK):
        for which, call in enumerate((first, second)):
            for index in range(start, min(start + BLOCK, iterations)):
                started = time.perf_counter()
                call()
                times[which, index] = (time.perf_counter() - started) * 1000
    return times[0], times[1]


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
    strokes = drawn_strokes()
    drawing = canvas_json(strokes)  # as the canvas sends them
    digit = canvas_to_mnist(rasterize_strokes(strokes))[None]  # (1, 28, 28), the input model.predict gets

    _, probabilities = predict_canvas_json(model, drawing)
    print(f"drawn '4' ({sum(len(stroke['points']) // 2 for stroke in strokes)} points) read as "
          f"{int(np.argmax(probabilities))} (probability {probabilities.max():.3f})")
    stroke, keras_predict = milliseconds_in_turns(lambda: predict_canvas_json(model, drawing),
                                                  lambda: model.predict(digit, verbose=0), args.iterations)

    p50, p95 = np.percentile(stroke, [50, 95])
    predict_p50, predict_p95 = np.percentile(keras_predict, [50, 95])
    print(f"per-stroke path (predict_canvas_json: the canvas's JSON -> strokes -> pixels, canvas_to_mnist, "
          f"predict_proba), {args.iterations} runs: "
          f"p50 {p50:.2f} ms, p95 {p95:.2f} ms")
    print(f"model.predict on the preprocessed digit, {args.iterations} runs: "
          f"p50 {predict_p50:.2f} ms, p95 {predict_p95:.2f} ms")
    ratio = predict_p50 / p50
    print(f"model.predict / per-stroke path: {ratio:.1f}x at p50, {predict_p95 / p95:.1f}x at p95")
    # Other programs on the machine stretch the slow tail most: say how busy it was.
    print(f"machine: {os.cpu_count()} CPUs, load average over the last minute {os.getloadavg()[0]:.1f}")
    passed = ratio >= TARGET_RATIO
    print(f"per-stroke path {ratio:.1f}x faster than model.predict at p50 (target >= {TARGET_RATIO:g}x) "
          f"{'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
