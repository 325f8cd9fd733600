"""A real Streamlit server and a real Chromium, for the end-to-end test and the start-up benchmark.

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


# Page helpers shared by the browser tests: pages scroll inside a tall viewport, and a page is read only once
# its script run has finished.
MAIN = '[data-testid="stMain"]'
PAGE_TIMEOUT_MS = 60_000  # a generous bound for a cold page on a busy 2-core machine, never a target


def wait_until_idle(page, timeout: float = PAGE_TIMEOUT_MS) -> None:
    """Wait for the script run to finish (the running indicator goes away) and every chart to be drawn."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"] [data-testid=\"stStatusWidgetRunningIcon\"]')"
        " && [...document.querySelectorAll('[data-testid=\"stPlotlyChart\"]')].every(c => c.querySelector('.main-svg'))",
        timeout=timeout,
    )


def open_page(page, base_url: str, slug: str, query: str = "") -> None:
    """Open a page by its address: a new browser session on that server."""
    page.goto(f"{base_url}/{slug}{query}")
    page.wait_for_selector(f"{MAIN} h1", timeout=PAGE_TIMEOUT_MS)
    wait_until_idle(page)


def switch_page(page, title: str) -> None:
    """Go to another page through the sidebar's links, in the same browser session (its state kept)."""
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).click()
    page.wait_for_function("title => document.querySelector('[data-testid=\"stMain\"] h1')?.innerText.includes(title)",
                           arg=title, timeout=PAGE_TIMEOUT_MS)
    wait_until_idle(page)


def assert_no_error(page) -> None:
    """No traceback and no exception element reached the page."""
    assert page.locator('[data-testid="stException"]').count() == 0, "an exception reached the page"
    text = page.inner_text("body")
    assert "Traceback" not in text and "Page not found" not in text


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the select box labelled ``label`` and wait for the rerun it starts."""
    page.locator(MAIN).get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_until_idle(page)
