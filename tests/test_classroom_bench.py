"""bench/classroom.py as a test: a short class of students speaking Streamlit's protocol (and one in Chromium where
Chromium is installed) on a real server. Asserts what must hold at any speed: no error in any page, every drawing
answered and read right, the training run finished (or showed its place in the queue), no student saw another's
model, and nothing left behind on the server. The speed and memory targets are the bench's own PASS/FAIL."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from harness.live_server import ROOT, browser_missing

pytestmark = pytest.mark.slow


def test_a_short_protocol_class_draws_everything_right_with_no_errors_and_no_leaks(full_mnist_path, tmp_path):
    result_path = tmp_path / "classroom.json"
    browsers = "0" if browser_missing() else "1"
    command = [sys.executable, str(ROOT / "bench" / "classroom.py"), "--students", "10", "--drawing", "6",
               "--training", "1", "--browsing", "2", "--browsers", browsers, "--minutes", "0.5", "--think", "2",
               "--idle", "2", "--single-rounds", "3", "--json", str(result_path)]
    finished = subprocess.run(command, cwd=ROOT, env={**os.environ, "MNIST_PATH": str(full_mnist_path)},
                              capture_output=True, text=True, timeout=900)
    assert result_path.is_file(), f"the bench wrote no result:\n{finished.stdout[-3000:]}\n{finished.stderr[-3000:]}"
    report = json.loads(result_path.read_text())
    crowd = report["class"]
    assert report["alone"]["errors"] + report["idle"]["errors"] + crowd["errors"] == []
    assert report["alone"]["drawings"] == 3 * (1 + int(browsers))
    assert crowd["drawing"]["drawings"] > 0 and crowd["page_change_ms"]["loads"] > 0
    assert report["alone"]["misread"] + crowd["drawing"]["misread"] == []  # every drawing answered, read right
    assert crowd["first_page_s"]["opened"] == crowd["first_page_s"]["students"]
    training = crowd["training"]
    assert training["finished"] + training["unfinished"] == 1 and training["unfinished_without_queue"] == 0, training
    assert crowd["leaks"] == []  # each student's sidebar showed its own active model
    assert report["memory"]["left_behind"] == []  # no thread or child process the class left behind
