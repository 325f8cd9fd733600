"""core.tensorflow_import: TensorFlow imported with the cycle collector paused, and what it made frozen."""

from __future__ import annotations

import subprocess
import sys

from helpers.paths import ROOT

CHECK = """
import gc
from core.tensorflow_import import import_tensorflow
tf = import_tensorflow()
frozen = gc.get_freeze_count()
assert import_tensorflow() is tf and gc.get_freeze_count() == frozen  # the second call imports nothing
import keras
print(gc.isenabled(), frozen, tf.__name__, keras.__name__)
"""


def test_tensorflow_and_keras_are_imported_then_frozen_and_the_collector_runs_again():
    finished = subprocess.run([sys.executable, "-c", CHECK], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    enabled, frozen, tensorflow, keras = finished.stdout.split()
    assert (enabled, tensorflow, keras) == ("True", "tensorflow", "keras")
    assert int(frozen) > 100_000  # about 430,000 objects: never walked by a collection again
