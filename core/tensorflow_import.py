"""Importing TensorFlow (and Keras) once per process, without Python's cycle collector in the way.

Importing TensorFlow makes about 430,000 objects. Python's cycle collector, run as they pile up, walks
all of them again and again during the import: 1.3 s of a 5.3 s import (3.98 s with the collector paused),
in full collections of up to 250 ms each, and in the server every such pause holds Python's lock, so every
page and drawing of every session waits through it. Afterwards a full collection still walked them all: 213 ms
each (2-core AMD EPYC, Python 3.11). So the collector is paused for the import, and what the import made is
then frozen (``gc.freeze``): never collected, never walked again. It is all kept for the process's life anyway.
"""

from __future__ import annotations

import gc
import importlib
import sys
import threading

_lock = threading.Lock()  # one import at a time: the second caller finds it done


def import_tensorflow():
    """Import TensorFlow and Keras if this process has not yet (as described above); return ``tensorflow``."""
    with _lock:
        if "tensorflow" not in sys.modules or "keras" not in sys.modules:
            was_enabled = gc.isenabled()
            gc.disable()
            try:
                importlib.import_module("tensorflow")
                importlib.import_module("keras")
            finally:
                if was_enabled:
                    gc.enable()
            gc.freeze()
    return sys.modules["tensorflow"]
