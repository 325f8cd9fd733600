"""Every benchmark in bench/ starts: its imports resolve and its options parse (`--help`), from any folder."""

import subprocess
import sys

import pytest

from helpers.paths import ROOT


@pytest.mark.parametrize("script", sorted(path.name for path in (ROOT / "bench").glob("*.py")))
def test_the_benchmark_starts_and_explains_its_options(script, tmp_path):
    finished = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--help"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "usage:" in finished.stdout
