"""Start-up: the dashboard's first page against a minimal Streamlit app, both on a cold server.

The minimal app is a title and one image, the least a page can show. Each run
starts a fresh server for it and for `dashboard/app.py` (the first page:
Lecture), opens it in a fresh Chromium context (empty cache) and times from
the request to the first frame painted with an image inside the main area, loaded. The page stamps
that time itself (FIRST_IMAGE_STAMP): Playwright's wait_for_selector polls at widening intervals, up
to 0.5 s apart, which rounded each figure up to its next poll. The two are run in turn, so a
busy machine slows both. Also checked: the dashboard's server has not loaded
TensorFlow by then. Target: the first page within 1.2x the minimal app's time
(medians), without TensorFlow.

"Cold" means a freshly started server that no browser has opened yet. The dashboard's server loads what its
first page imports while it starts (dashboard/warm_up.py), before it answers its health check, so that part
is in its "server up" time, printed beside the minimal app's, not in its first page's.

Both apps start from bytecode: pip compiled the minimal app's imports (Streamlit, numpy) when it installed
them, and this compiles the dashboard's own modules the same way first. Without that, a machine that sets
PYTHONDONTWRITEBYTECODE (this one does) would charge every cold start here about 0.1 s of compiling that a
classroom's install pays once.

Printed beside it, not judged: the minimal app with the kinds of controls the first page needs (a
button, a text box, a code block). Streamlit's front end fetches the code of each kind of element
when it first appears and shows nothing new until it has it; that reference shows what those
controls alone cost over the minimal app, in the same run.

    MNIST_PATH=../shared/data/mnist_data.npz python bench/startup.py [--runs 11]
"""

from __future__ import annotations

import argparse
import compileall
import pathlib
import statistics
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]

from harness.live_server import (  # noqa: E402
    APP,
    CHROMIUM,
    CHROMIUM_ARGS,
    INSTALL_HINT,
    chromium_available,
    streamlit_server,
    tensorflow_loaded,
)

TARGET_RATIO = 1.2
MINIMAL_APP = """import numpy as np
import streamlit as st

st.title("Minimal")
st.image(np.zeros((28, 28), np.uint8), width=168)
"""
# Installed before the page loads: checks every animation frame for a loaded image in the main area and
# stamps the first frame that shows one, in milliseconds since the navigation started (the request).
FIRST_IMAGE_STAMP = """(() => {
  const check = () => {
    const image = document.querySelector('[data-testid="stMain"] img');
    if (image && image.complete && image.naturalWidth > 0 && image.getBoundingClientRect().width > 0) {
      requestAnimationFrame(() => { window.__firstImageMs = performance.now(); });
    } else {
      requestAnimationFrame(check);
    }
  };
  requestAnimationFrame(check);
})();"""
MINIMAL_WITH_CONTROLS = MINIMAL_APP + """st.button("Next")
st.sidebar.text_input("Your name")
st.code("X_train = data['X_train']")
"""


def measure_once(browser, script: pathlib.Path) -> tuple[float, float, bool]:
    """(seconds until the server answers, seconds from the request to the first image shown, TensorFlow loaded)."""
    with streamlit_server(script=script) as (base_url, process, seconds_to_up):
        context = browser.new_context()  # empty cache: the browser is as cold as the server
        try:
            page = context.new_page()
            page.add_init_script(FIRST_IMAGE_STAMP)
            page.goto(base_url)
            page.wait_for_function("() => window.__firstImageMs !== undefined", timeout=60_000)
            seconds_to_page = page.evaluate("() => window.__firstImageMs") / 1000
        finally:
            context.close()
        return seconds_to_up, seconds_to_page, tensorflow_loaded(process.pid)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # 11: on a 2-core VM, medians of 7 cold starts moved by about 0.05x from run to run with the machine's load.
    parser.add_argument("--runs", type=int, default=11, help="cold starts of each app")
    args = parser.parse_args()
    if args.runs < 1:
        raise SystemExit(f"--runs must be at least 1, got {args.runs}")
    if not chromium_available():
        print(f"Chromium not found at {CHROMIUM}; {INSTALL_HINT}")
        return 1
    from playwright.sync_api import sync_playwright

    for package in ("core", "dashboard"):
        compileall.compile_dir(ROOT / package, quiet=1)
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        scripts = {"minimal": pathlib.Path(folder) / "minimal_app.py",
                   "controls": pathlib.Path(folder) / "minimal_with_controls.py", "dashboard": APP}
        scripts["minimal"].write_text(MINIMAL_APP)
        scripts["controls"].write_text(MINIMAL_WITH_CONTROLS)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        runs = {name: [] for name in scripts}
        for _ in range(args.runs):
            for name, script in scripts.items():
                runs[name].append(measure_once(browser, script))
        browser.close()
    for name, measured in runs.items():
        for up, page, tensorflow in measured:
            print(f"{name:9}: server up in {up:.2f} s, first page shown {page:.2f} s after the request"
                  + (f", TensorFlow loaded: {tensorflow}" if name == "dashboard" else ""))
    up = {name: statistics.median(run[0] for run in measured) for name, measured in runs.items()}
    page = {name: statistics.median(run[1] for run in measured) for name, measured in runs.items()}
    ratio = page["dashboard"] / page["minimal"]
    tensorflow = any(run[2] for run in runs["dashboard"])
    print(f"medians: server up {up['dashboard']:.2f} s (minimal {up['minimal']:.2f} s); first page "
          f"{page['dashboard']:.2f} s, minimal app {page['minimal']:.2f} s")
    print(f"for reference: the minimal app with a button, a text box and a code block {page['controls']:.2f} s, "
          f"{page['controls'] / page['minimal']:.2f}x the minimal app; the first page is "
          f"{page['dashboard'] / page['controls']:.2f}x that")
    ok = ratio <= TARGET_RATIO and not tensorflow
    print(f"first page / minimal app: {ratio:.2f}x (target <= {TARGET_RATIO:g}x), TensorFlow loaded: {tensorflow}"
          f" -> {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
