"""A real Streamlit server and a real Chromium: what the browser tests and the browser benchmarks share.

Neither tests/ nor bench/ imports the other; both import this.

Chromium comes from Debian (apt-get install -y chromium chromium-driver); Playwright
only drives it, and never downloads a browser of its own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard" / "app.py"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
INSTALL_HINT = "install it with: apt-get install -y chromium chromium-driver"
# Without these, headless Chromium keeps trying to reach Google's servers on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_available() -> bool:
    return Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)


def browser_missing() -> str:
    """Why the browser tests cannot run here ("" when they can); raises when E2E_REQUIRED says they must."""
    if chromium_available():
        return ""
    if os.environ.get("E2E_REQUIRED"):
        raise RuntimeError(f"the browser tests are required here but Chromium is missing at {CHROMIUM}; {INSTALL_HINT}")
    return f"Chromium not found at {CHROMIUM}; {INSTALL_HINT}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(env: dict[str, str] | None = None, startup_timeout: float = 60.0, script: Path = APP):
    """Run ``streamlit run <script>`` (the dashboard by default) on a free loopback port, from the repository
    root with its .streamlit settings; yield (base_url, process, seconds_to_up)."""
    port = free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", str(script),
        "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"streamlit exited early:\n{process.stdout.read()}")
            if time.perf_counter() - started > startup_timeout:
                raise RuntimeError("streamlit did not answer its health check in time")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=1) as answer:
                    if answer.read().strip() == b"ok":
                        break
            time.sleep(0.05)
        yield base_url, process, time.perf_counter() - started
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def tensorflow_loaded(pid: int) -> bool:
    """Whether the process has TensorFlow's shared library mapped (Linux /proc), without touching it."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return "libtensorflow" in maps or "_pywrap_tensorflow" in maps
