"""bench/classroom.py as a test: a short class (3 drawing, 1 training, 2 browsing, one of them uploading) on a real
server. Asserts what must hold at any speed: no error in any page, the training run finished, the leak check is
clean, and every role did its work. The speed and memory targets are the bench's own PASS/FAIL, not asserted here."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from harness.live_server import ROOT, browser_missing

pytestmark = pytest.mark.slow

if browser_missing():
    pytest.skip(browser_missing(), allow_module_level=True)


def test_a_short_class_has_no_errors_and_no_leaks(full_mnist_path, tmp_path):
    result_path = tmp_path / "classroom.json"
    command = [sys.executable, str(ROOT / "bench" / "classroom.py"), "--students", "6", "--drawing", "3",
               "--training", "1", "--browsing", "2", "--minutes", "1", "--idle", "2", "--single-rounds", "3",
               "--workers", "2", "--json", str(result_path)]
    finished = subprocess.run(command, cwd=ROOT, env={**os.environ, "MNIST_PATH": str(full_mnist_path)},
                              capture_output=True, text=True, timeout=900)
    assert result_path.is_file(), f"the bench wrote no result:\n{finished.stdout[-3000:]}\n{finished.stderr[-3000:]}"
    report = json.loads(result_path.read_text())
    errors = report["errors"] + report["single"]["errors"] + report["idle"]["errors"]
    assert errors == [], errors
    assert report["training"]["finished"] == 1 and report["training"]["unfinished"] == 0, report["training"]
    assert report["leaks"] == [], report["leaks"]
    assert report["single"]["drawings"] == 3
    assert report["class"]["drawings"] > 0 and report["page_loads"] > 0
