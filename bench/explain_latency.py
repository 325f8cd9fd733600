"""Explanation latency: activations + saliency for one drawn digit, and 2-D embeddings of 2,000 test digits.

For the lecture model and the CNN: one drawn digit (the '4' of
bench/predict_latency.py, rasterized and through canvas_to_mnist) goes through
core.evaluation.explain.activations + core.evaluation.explain.saliency, timed against one
predict_proba call on the same digit in the same run. Then core.evaluation.explain.embed
lays out 2,000 test digits, with PCA (against predict_proba on the same
digits) and with t-SNE (against the PCA layout).

Targets: activations + saliency p95 <= 100 ms (a page that redraws on every pen
stroke still answers within a tenth of a second), PCA embedding <= 1 s,
t-SNE embedding <= 30 s.

    MNIST_PATH=../shared/data/mnist_data.npz python bench/explain_latency.py [--repeats 200] [--skip-tsne]

Presets without a model named after them in --models (e.g. saved with
``python -m core train --preset cnn --save cnn``) are trained here for --epochs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from predict_latency import drawn_strokes, milliseconds_in_turns  # noqa: E402  (bench/ is this script's folder)

from core.data.mnist import load_mnist  # noqa: E402
from core.drawing.preprocess import canvas_to_mnist  # noqa: E402
from core.drawing.strokes import rasterize_strokes  # noqa: E402
from core.evaluation.explain import activations, embed, saliency  # noqa: E402
from core.model.config import preset  # noqa: E402
from core.model.predict import predict_proba  # noqa: E402
from core.model.store import ModelStore  # noqa: E402
from core.training.loop import train  # noqa: E402

PRESETS = ("lecture", "cnn")
TARGET_EXPLAIN_P95_MS = 100.0
TARGET_PCA_SECONDS = 1.0
TARGET_TSNE_SECONDS = 30.0
EMBED_DIGITS = 2000


def model_for(name: str, data, store: ModelStore | None, epochs: int):
    """The saved model called ``name`` in ``store``, else the preset trained now for ``epochs``; and its story."""
    if store is not None and name in {info.name for info in store.list().models}:
        return store.load(name), f"saved, test accuracy {store.info(name).test_accuracy:.4f}"
    started = time.perf_counter()
    result = train(preset(name).replace(epochs=epochs), data)
    return result.model, (f"trained here, {epochs} epoch(s) in {time.perf_counter() - started:.0f} s, "
                          f"test accuracy {result.test_accuracy:.4f}")


def seconds(call, repeats: int) -> np.ndarray:
    """Wall time of each of ``repeats`` calls, after one untimed call."""
    call()
    times = np.empty(repeats)
    for index in range(repeats):
        started = time.perf_counter()
        call()
        times[index] = time.perf_counter() - started
    return times


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="MNIST file; default: MNIST_PATH, else the usual sources")
    parser.add_argument("--repeats", type=int, default=200, help="timed explanations of the drawn digit per model")
    parser.add_argument("--embed-repeats", type=int, default=5, help="timed PCA embeddings per model")
    parser.add_argument("--skip-tsne", action="store_true", help="leave out the t-SNE embedding (tens of seconds)")
    parser.add_argument("--models", default=None, help="folder of saved models named 'lecture' and 'cnn'")
    parser.add_argument("--epochs", type=int, default=1,
                        help="epochs for a preset trained here (latency does not depend on them)")
    args = parser.parse_args()
    if args.repeats < 1 or args.embed_repeats < 1:
        parser.error("--repeats and --embed-repeats must be at least 1")

    data = load_mnist(args.data)
    if len(data.x_test) < EMBED_DIGITS:
        parser.error(f"the embedding needs {EMBED_DIGITS} test digits; {data.description} has fewer")
    print(f"data: {data.description}")
    store = ModelStore(args.models) if args.models else None
    digit = canvas_to_mnist(rasterize_strokes(drawn_strokes()))  # (28, 28), what the Draw page would explain
    test_digits = data.x_test[:EMBED_DIGITS]  # (2000, 28, 28) uint8
    checks: list[bool] = []
    for name in PRESETS:
        model, story = model_for(name, data, store, args.epochs)
        print(f"\n{name}: {story}")
        explain_ms, predict_ms = milliseconds_in_turns(  # in turns: a slower spell of the machine slows both alike
            lambda: (activations(model, digit), saliency(model, digit)), lambda: predict_proba(model, digit[None]),
            args.repeats)
        p50, p95 = np.percentile(explain_ms, [50, 95])
        predict_p50 = float(np.median(predict_ms))
        print(f"  activations + saliency, one drawn digit, {args.repeats} runs: p50 {p50:.2f} ms, p95 {p95:.2f} ms; "
              f"predict_proba p50 {predict_p50:.2f} ms; ratio {p50 / predict_p50:.1f}x at p50")
        checks.append(p95 <= TARGET_EXPLAIN_P95_MS)
        print(f"  activations + saliency p95 {p95:.2f} ms (target <= {TARGET_EXPLAIN_P95_MS:g} ms) "
              f"{verdict(checks[-1])}")

        pca_s = seconds(lambda: embed(model, test_digits), args.embed_repeats)
        forward_s = seconds(lambda: predict_proba(model, test_digits), args.embed_repeats)
        slowest = float(pca_s.max())
        print(f"  embed PCA, {EMBED_DIGITS} digits, {args.embed_repeats} runs: median {np.median(pca_s):.3f} s, "
              f"slowest {slowest:.3f} s; predict_proba on them median {np.median(forward_s):.3f} s; "
              f"ratio {np.median(pca_s) / np.median(forward_s):.1f}x")
        checks.append(slowest <= TARGET_PCA_SECONDS)
        print(f"  embed PCA slowest {slowest:.3f} s (target <= {TARGET_PCA_SECONDS:g} s) {verdict(checks[-1])}")
        if not args.skip_tsne:
            started = time.perf_counter()
            embed(model, test_digits, method="tsne")
            tsne_s = time.perf_counter() - started
            print(f"  embed t-SNE, {EMBED_DIGITS} digits, 1 run: {tsne_s:.1f} s; "
                  f"ratio to PCA {tsne_s / np.median(pca_s):.0f}x")
            checks.append(tsne_s <= TARGET_TSNE_SECONDS)
            print(f"  embed t-SNE {tsne_s:.1f} s (target <= {TARGET_TSNE_SECONDS:g} s) {verdict(checks[-1])}")
    # Other programs on the machine stretch every figure: say how busy it was.
    print(f"\nmachine: {os.cpu_count()} CPUs, load average over the last minute {os.getloadavg()[0]:.1f}")
    print(f"{sum(checks)} of {len(checks)} targets met: {verdict(all(checks))}")
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
