"""Drawn-digit benchmark: MNIST test digits redrawn on a 280x280 canvas the way a person draws them.

The drawings are core.drawing.synthetic' (a random pen width, size, position and
background for each digit; see there), as the leaderboard's drawn-digit figure
uses them. Every drawing goes through ``canvas_to_mnist`` + the model for each
preset, and through the naive pipeline (the whole canvas resized to 28x28) as
the baseline. Its pen strokes also go the Draw page's way: as the canvas's
Fabric JSON through ``canvas_json_to_mnist``; that figure must stay within
MAX_CANVAS_GAP points of the drawing's (PASS/FAIL). Seeded: the same --seed
draws the same digits the same way.

    python bench/drawn_digits.py --data ../shared/data/mnist_data.npz [--digits 2000] [--models DIR]

Presets without a model named after them in --models (e.g. saved with
``python -m core train --preset cnn --save cnn``) are trained here first.
"""

from __future__ import annotations

import argparse
import sys
import time

from core.data.mnist import load_mnist  # noqa: E402
from core.drawing.synthetic import drawn_test_set  # noqa: E402

MAX_CANVAS_GAP = 0.005  # the strokes through the canvas's JSON vs the drawing: at most half a point apart


def _model_for(name: str, data, store):
    """The saved model called ``name`` in ``store``, else the preset trained now; and where it came from."""
    from core.model.config import describe, preset
    from core.training.loop import train

    if store is not None and name in {info.name for info in store.list().models}:
        info = store.info(name)
        return store.load(name), f"saved {describe(info.config)}", info.test_accuracy
    started = time.perf_counter()
    result = train(preset(name), data)
    return result.model, f"trained here in {time.perf_counter() - started:.0f} s", result.test_accuracy


def main() -> int:
    from core.evaluation.metrics import evaluate_accuracy
    from core.model.config import PRESETS
    from core.model.store import ModelStore

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="MNIST file; default: MNIST_PATH, else the usual sources")
    parser.add_argument("--digits", type=int, default=2000, help="how many test digits to draw (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="which digits, and how they are drawn")
    parser.add_argument("--models", default=None, help="folder of saved models named after the presets")
    parser.add_argument("--presets", default=",".join(PRESETS), help="comma-separated presets to measure")
    args = parser.parse_args()
    presets = [name.strip() for name in args.presets.split(",") if name.strip()]
    unknown = [name for name in presets if name not in PRESETS]
    if unknown:
        parser.error(f"unknown preset(s) {', '.join(unknown)}; choose from {', '.join(PRESETS)}")
    data = load_mnist(args.data)
    if not 1 <= args.digits <= len(data.x_test):
        parser.error(f"--digits must be from 1 to {len(data.x_test)}")
    print(f"data: {data.description}")
    started = time.perf_counter()
    drawn = drawn_test_set(data.x_test, data.y_test, args.digits, args.seed, through_canvas=True)
    print(f"drew {args.digits} test digits (seed {args.seed}) in {time.perf_counter() - started:.0f} s")
    store = ModelStore(args.models) if args.models else None
    print(f"{'preset':<10} {'test':>7} {'drawn':>7} {'canvas':>7} {'naive':>7}  model")
    passed = True
    for name in presets:
        model, origin, test_accuracy = _model_for(name, data, store)
        prepared = evaluate_accuracy(model, drawn.prepared, drawn.labels)
        through_canvas = evaluate_accuracy(model, drawn.from_canvas, drawn.labels)
        baseline = evaluate_accuracy(model, drawn.naive, drawn.labels)
        passed &= abs(through_canvas - prepared) <= MAX_CANVAS_GAP
        print(f"{name:<10} {test_accuracy:>7.4f} {prepared:>7.4f} {through_canvas:>7.4f} {baseline:>7.4f}  {origin}",
              flush=True)
    print(f"canvas (the pen strokes as the Draw page's canvas sends them) within {MAX_CANVAS_GAP * 100:g} points of "
          f"drawn for every preset: {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
