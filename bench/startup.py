"""Start-up: from `streamlit run dashboard/app.py` to the first page rendered in a browser.

Measures (1) seconds from launching the server until it answers, (2) seconds from
then until the first page (Digits) shows its digit grid in Chromium, and
(3) whether the server had loaded TensorFlow by then. Target: the first page
renders within 2 s of the server being up, without TensorFlow.

    MNIST_PATH=../shared/data/mnist_data.npz python bench/startup.py [--runs 3]
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser import CHROMIUM, CHROMIUM_ARGS, INSTALL_HINT, chromium_available, streamlit_server, tensorflow_loaded  # noqa: E402

TARGET_SECONDS = 2.0


def measure_once(playwright) -> tuple[float, float, bool]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        with streamlit_server() as (base_url, process, seconds_to_up):
            page = browser.new_page()
            started = time.perf_counter()
            page.goto(base_url)
            # The digit grid is the first page's main content: images inside the main area.
            page.wait_for_selector('[data-testid="stMain"] img', timeout=30_000)
            seconds_to_page = time.perf_counter() - started
            return seconds_to_up, seconds_to_page, tensorflow_loaded(process.pid)
    finally:
        browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not chromium_available():
        print(f"Chromium not found at {CHROMIUM}; {INSTALL_HINT}")
        return 1
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        runs = [measure_once(playwright) for _ in range(args.runs)]
    for up, page, tensorflow in runs:
        print(f"server up in {up:.2f} s, first page rendered {page:.2f} s later, TensorFlow loaded: {tensorflow}")
    median_page = statistics.median(page for _, page, _ in runs)
    any_tensorflow = any(tensorflow for _, _, tensorflow in runs)
    ok = median_page <= TARGET_SECONDS and not any_tensorflow
    print(f"first page: median {median_page:.2f} s after the server is up (target <= {TARGET_SECONDS:g} s), "
          f"TensorFlow loaded: {any_tensorflow} -> {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
