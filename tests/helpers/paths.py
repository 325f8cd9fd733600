"""Where things are: the repository, the app's entry script, the full MNIST file (MNIST_PATH)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


FULL_MNIST = Path(os.environ.get("MNIST_PATH") or ROOT.parent / "shared" / "data" / "mnist_data.npz")


APP = ROOT / "dashboard" / "app.py"
