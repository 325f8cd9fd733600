"""Running ``python -m core`` as a user does: a separate process in the repository, reading its result line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from helpers.paths import ROOT

# The last line `python -m core train` prints, for scripts to read.
RESULT_LINE = re.compile(r"^test_accuracy=(\d\.\d{4})$")


def run_cli(*args: str, models: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m core ARGS`` from the repository root, as from a plain shell: no network, no TF log setting."""
    env = {key: value for key, value in os.environ.items() if key not in ("MNIST_PATH", "TF_CPP_MIN_LOG_LEVEL")}
    env["MNIST_MODELS_DIR"] = str(models)
    completed = subprocess.run(
        [sys.executable, "-m", "core", *map(str, args)], cwd=ROOT, env=env, capture_output=True, timeout=timeout,
    )
    # Decoded by hand: text=True would turn the progress bar's carriage returns into newlines.
    return subprocess.CompletedProcess(
        completed.args, completed.returncode, completed.stdout.decode(), completed.stderr.decode(),
    )
