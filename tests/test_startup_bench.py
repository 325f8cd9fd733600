"""bench/startup.py as a test: one cold start of each app in real Chromium. Asserts what must hold at any speed:
every app's first page was shown and timed, and the dashboard's server had not loaded TensorFlow by then. The
1.2x target is the bench's own PASS/FAIL, not asserted here."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from harness.live_server import ROOT, browser_missing

if browser_missing():
    pytest.skip(browser_missing(), allow_module_level=True)


def test_one_cold_start_of_each_app_is_timed_without_tensorflow(tiny_npz):
    finished = subprocess.run([sys.executable, str(ROOT / "bench" / "startup.py"), "--runs", "1"], cwd=ROOT,
                              env={**os.environ, "MNIST_PATH": str(tiny_npz)}, capture_output=True, text=True,
                              timeout=300)
    output = finished.stdout
    for app in ("minimal", "controls", "dashboard"):
        assert re.search(rf"^{app} *: server up in [\d.]+ s, first page shown [\d.]+ s after the request", output,
                         flags=re.MULTILINE), (app, output, finished.stderr[-2000:])
    assert re.search(r"^first page / minimal app: [\d.]+x \(target <= 1.2x\), TensorFlow loaded: False -> (PASS|FAIL)$",
                     output, flags=re.MULTILINE), output
