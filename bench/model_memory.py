"""Model memory: what a server keeps for each model it has loaded, read and explained, once the model is gone.

A class's server loads model after model (each student's run, Evaluate, the Draw page) and lets each go again
when its caches drop it. This loads one saved Lecture model --models times, as a new model each time, and does
with each what the Draw page does with a student's model (a guess, then saliency and the hidden layers), then
lets it go and collects. It prints what stays per model: the process's RSS (with the server's settings of glibc's
malloc and after a trim, so free memory is not counted: core.native_memory), Python objects, and functions in
TensorFlow's eager context, for the load alone, with the guess, and with the explanations, each in a fresh process.

Target: at most 0.25 MB kept per model with the explanations (a lesson's 250 models: about 60 MB, 7% of a
server's 850 MB). Part of what made bench/classroom.py's soak grow (issue 20); most of the rest was freed memory
glibc kept (core.native_memory).

    MNIST_PATH=../shared/data/mnist_data.npz python bench/model_memory.py [--models 40]
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import tempfile

import numpy as np
import psutil
from draw_latency import train_model  # bench/ is this script's folder

TARGET_MB_PER_MODEL = 0.25
WARM_UP_MODELS = 5  # loaded first, uncounted: the first models load code and caches once per process
STEPS = {"load": "loaded", "guess": "loaded, one guess", "explain": "loaded, one guess, saliency and hidden layers"}


def measure(models_dir: str, step: str, count: int) -> tuple[float, float, int]:
    """In this process: (MB of RSS kept per model, Python objects kept per model, eager functions added)."""
    from tensorflow.python.eager import context

    from core.evaluation.explain import activations, saliency
    from core.model.predict import predict_proba
    from core.model.store import ModelStore
    from core.native_memory import return_large_blocks, trim

    return_large_blocks()  # as the server does (dashboard/warm_up.py)

    store = ModelStore(models_dir)
    digit = np.zeros((28, 28), np.float32)  # (28, 28): a plain "1"
    digit[6:22, 13:16] = 1.0

    def one_model() -> None:
        model = store.load("lecture")
        if step in ("guess", "explain"):
            predict_proba(model, digit[None])
        if step == "explain":
            saliency(model, digit, target=1)
            activations(model, digit[None])

    def settled() -> tuple[float, int, int]:
        gc.collect()
        trim()  # give free memory back (glibc only), as the server does every 30 s: count what is kept
        return (psutil.Process().memory_info().rss / 2**20, len(gc.get_objects()),
                len(context.context().list_function_names()))

    for _ in range(WARM_UP_MODELS):
        one_model()
    rss_before, objects_before, functions_before = settled()
    for _ in range(count):
        one_model()
    rss_after, objects_after, functions_after = settled()
    kept_mb, kept_objects = (rss_after - rss_before) / count, (objects_after - objects_before) / count
    return kept_mb, kept_objects, functions_after - functions_before


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=40, help="models loaded one after another, each counted")
    parser.add_argument("--data", default=os.environ.get("MNIST_PATH"), help="MNIST file; default: MNIST_PATH")
    parser.add_argument("--step", choices=STEPS, default=None, help=argparse.SUPPRESS)  # one step, in a child
    parser.add_argument("--models-dir", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.models < 1:
        parser.error(f"--models must be at least 1, got {args.models}")
    if args.step:  # the child: one step, one line of figures
        print(*measure(args.models_dir, args.step, args.models))
        return 0

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as models_dir:
        print(f"model: {train_model(models_dir, args.data, epochs=1)}")
        figures = {}
        for step in STEPS:  # each in a fresh process: nothing one step kept is counted in the next
            child = subprocess.run([sys.executable, __file__, "--step", step, "--models", str(args.models),
                                    "--models-dir", models_dir], cwd=root, capture_output=True, text=True,
                                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
            if child.returncode:
                print(f"measuring '{step}' failed: {child.stderr.strip()[-500:]}")
                return 1
            megabytes, objects, functions = child.stdout.split()[-3:]
            figures[step] = float(megabytes)
            print(f"{STEPS[step]}: {float(megabytes):.2f} MB, {float(objects):.0f} Python objects kept per model; "
                  f"{functions} functions added to TensorFlow's context over {args.models} models")
    passed = figures["explain"] <= TARGET_MB_PER_MODEL
    print(f"kept per model explained: {figures['explain']:.2f} MB (target <= {TARGET_MB_PER_MODEL:g} MB) "
          f"{'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
