"""Cold start: what a class meets on a freshly started server, measured in Chromium.

A fresh server with the digits of MNIST_PATH (or --data) serves its first page to a fresh browser; 10 s later
(the server prepares TensorFlow and a training worker meanwhile, dashboard/warm_up.py), each of these is timed in
a browser session of its own, with an empty cache, as a student's first visit:

  - the first Lecture run: from the click on "Train for 5 epochs" (step 13) to the first loss point shown, at
    most 3 s (a cold server's first run had waited about 16 s on a 2-core machine);
  - step 8 (softmax and the loss, whose network TensorFlow builds): from the click on Next at step 7 to the
    step's figures shown, at most 1.5 s (was 7.4 s); step 7, the first step that builds a network, the same way;
  - Evaluate's first view of the model that run saved: from the request to its accuracies and its accuracy
    tab's content shown (the gallery of digits read wrong), at most 2 s (was 4.8 s); the three charts, drawn once
    the browser has fetched plotly.js, are timed too and printed beside it;
  - the first page against a minimal app, as bench/startup.py measures them (cold servers, medians of --runs),
    at most 1.2x.

The first three are absolute targets, the issue's; so each is timed a second time on the then warm server and
printed beside it, and the machine is named. Each page stamps the moment itself (performance.now() on the first
animation frame that shows it), as bench/startup.py does.

    MNIST_PATH=../shared/data/mnist_data.npz python bench/cold_start.py [--runs 5] [--settle 10]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import platform
import statistics
import sys
import tempfile
import time

from startup import MINIMAL_APP, measure_once

from harness.live_server import APP, CHROMIUM, CHROMIUM_ARGS, INSTALL_HINT, chromium_available, streamlit_server

# Seconds, the targets. Step 7 builds a network too since the lecture's In[13]-[15] have their live
# counterparts there: it is held to step 8's target.
TARGETS = {"first loss point": 3.0, "step 7": 1.5, "step 8": 1.5, "Evaluate": 2.0}
FIRST_PAGE_RATIO = 1.2
TIMEOUT_MS = 180_000
# Stamps, on each animation frame, the first moment `condition` holds: window[name], in ms since the
# navigation started (the request).
STAMP = """([name, condition]) => {
  const check = () => {
    if (condition()) {
      window[name] = performance.now();
    } else {
      requestAnimationFrame(check);
    }
  };
  requestAnimationFrame(check);
}"""
STEP_7_SHOWN = """() => document.querySelector('[data-testid="stMain"] h2')?.innerText.startsWith('7.')
  && document.querySelector('[data-testid="stMain"]').innerText.includes('Their starting values')"""
STEP_8_SHOWN = """() => document.querySelector('[data-testid="stMain"] h2')?.innerText.startsWith('8.')
  && [...document.querySelectorAll('[data-testid="stMetricLabel"]')].some(label => label.innerText.includes('Lowest'))"""
# Evaluate's first view: the accuracies on the test digits and the accuracy tab's content (its gallery of the
# digits read wrong, images loaded). Its three charts follow once the browser has plotly.js: timed apart, printed.
EVALUATE_SHOWN = """() => [...document.querySelectorAll('[data-testid="stMain"] h3')]
  .some(heading => heading.innerText.includes('Misclassified test digits'))
  && [...document.querySelectorAll('[data-testid="stMain"] img')].every(image => image.complete)"""
CHARTS_SHOWN = """() => document.querySelectorAll('[data-testid="stMain"] [data-testid="stPlotlyChart"] .main-svg')
  .length >= 3"""
FIRST_POINT_SHOWN = """() => /step [1-9][\\d,]*\\//.test(document.querySelector('[data-testid="stMain"]')?.innerText || '')"""


def machine() -> str:
    """The CPU model, cores, AVX-512 or not, and the load when the bench started."""
    info = pathlib.Path("/proc/cpuinfo").read_text() if pathlib.Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
                 platform.processor() or "unknown CPU")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    avx512 = "avx512f" in info
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{model}, {cores} cores, {'AVX-512' if avx512 else 'no AVX-512'}, load average {load:.2f} at the start"


def shown_after_request(browser, url: str, *conditions: str) -> list[float]:
    """Seconds from the request for ``url`` in a fresh browser context to the first frame where each condition
    holds (JavaScript functions), in order."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        page = context.new_page()
        for number, condition in enumerate(conditions):
            page.add_init_script(f"({STAMP})(['__shown{number}', {condition}])")
        page.goto(url)
        seconds = []
        for number in range(len(conditions)):
            page.wait_for_function(f"() => window.__shown{number} !== undefined", timeout=TIMEOUT_MS)
            seconds.append(page.evaluate(f"() => window.__shown{number}") / 1000)
        return seconds
    finally:
        context.close()


def first_loss_point(browser, base_url: str) -> float:
    """Seconds from the click on step 13's "Train for 5 epochs" to the first loss point shown (the progress line
    and the chart are drawn together), in a fresh browser session; waits for the run to end and be saved."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        page = context.new_page()
        page.goto(f"{base_url}/?step=13")
        button = page.get_by_role("button", name="Train for 5 epochs", exact=True)
        button.wait_for(timeout=TIMEOUT_MS)
        button.evaluate("button => button.addEventListener('pointerdown',"
                        " () => { window.__clickMs = performance.now(); }, {once: true})")
        page.evaluate(f"({STAMP})(['__pointMs', () => window.__clickMs !== undefined && ({FIRST_POINT_SHOWN})()])")
        button.click()
        page.wait_for_function("() => window.__pointMs !== undefined", timeout=TIMEOUT_MS)
        seconds = page.evaluate("() => (window.__pointMs - window.__clickMs) / 1000")
        page.get_by_text("Saved as").first.wait_for(timeout=TIMEOUT_MS)  # Evaluate then has its model
        return seconds
    finally:
        context.close()


def steps_by_next(browser, base_url: str) -> tuple[float, float]:
    """Seconds from a click on Next to the step shown, in a fresh browser session opened at step 6: to step 7 (the
    first step that builds a network) and then to step 8, each page's first visit, as a teacher goes through them."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        page = context.new_page()
        page.goto(f"{base_url}/?step=6")
        seconds = []
        for name, shown in (("__step7Ms", STEP_7_SHOWN), ("__step8Ms", STEP_8_SHOWN)):
            button = page.get_by_role("button", name="Next").first
            button.wait_for(timeout=TIMEOUT_MS)
            page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidgetRunningIcon\"]')",
                                   timeout=TIMEOUT_MS)
            button.evaluate("button => button.addEventListener('pointerdown',"
                            " () => { window.__clickMs = performance.now(); }, {once: true})")
            page.evaluate(f"({STAMP})(['{name}', {shown}])")
            button.click()
            page.wait_for_function(f"() => window.{name} !== undefined", timeout=TIMEOUT_MS)
            seconds.append(page.evaluate(f"() => (window.{name} - window.__clickMs) / 1000"))
        return seconds[0], seconds[1]
    finally:
        context.close()


def class_checks(browser, data: str | None, settle: float) -> tuple[dict[str, tuple[float, float]], float]:
    """({what: (seconds on a fresh server, seconds again once warm)} for the Lecture run, step 8 and Evaluate;
    seconds until Evaluate's charts were drawn too, the first time)."""
    with tempfile.TemporaryDirectory() as models:
        env = {"MNIST_MODELS_DIR": models, "TF_CPP_MIN_LOG_LEVEL": "3", **({"MNIST_PATH": data} if data else {})}
        with streamlit_server(env) as (base_url, _process, _seconds):
            shown_after_request(browser, base_url, "() => !!document.querySelector('[data-testid=\"stMain\"] h2')")
            time.sleep(settle)  # the class arrives: the server has had this long to prepare
            timed: dict[str, list[float]] = {"first loss point": [], "step 7": [], "step 8": [], "Evaluate": []}
            charts = 0.0
            for _ in range(2):  # on the fresh server, then again once warm
                timed["first loss point"].append(first_loss_point(browser, base_url))
                step_7, step_8 = steps_by_next(browser, base_url)
                timed["step 7"].append(step_7)
                timed["step 8"].append(step_8)
                evaluate, drawn = shown_after_request(browser, f"{base_url}/evaluate", EVALUATE_SHOWN, CHARTS_SHOWN)
                timed["Evaluate"].append(evaluate)
                charts = charts or drawn
    return {what: (cold, warm) for what, (cold, warm) in timed.items()}, charts


def first_page_ratio(browser, runs: int) -> tuple[float, float]:
    """(first page, minimal app): medians of ``runs`` cold servers each, in turns (bench/startup.py's measure)."""
    with tempfile.TemporaryDirectory() as folder:
        minimal = pathlib.Path(folder) / "minimal_app.py"
        minimal.write_text(MINIMAL_APP)
        pages: dict[str, list[float]] = {"dashboard": [], "minimal": []}
        for _ in range(runs):
            for name, script in (("minimal", minimal), ("dashboard", APP)):
                pages[name].append(measure_once(browser, script)[1])
    return statistics.median(pages["dashboard"]), statistics.median(pages["minimal"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("MNIST_PATH"), help="MNIST file; default: MNIST_PATH")
    parser.add_argument("--runs", type=int, default=5, help="cold starts of each app for the first page's ratio")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds between the first page and the class")
    args = parser.parse_args()
    if args.runs < 1 or args.settle < 0:
        parser.error(f"--runs must be at least 1 and --settle at least 0, got {args.runs} and {args.settle}")
    if not chromium_available():
        print(f"Chromium not found at {CHROMIUM}; {INSTALL_HINT}")
        return 1
    from playwright.sync_api import sync_playwright

    print(f"machine: {machine()}")
    print(f"data: {args.data or 'the usual sources (no MNIST_PATH)'}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            checks, charts = class_checks(browser, args.data, args.settle)
            dashboard, minimal = first_page_ratio(browser, args.runs)
        finally:
            browser.close()
    passed = True
    for what, (cold, warm) in checks.items():
        ok = cold <= TARGETS[what]
        passed = passed and ok
        print(f"{what}: {cold:.2f} s on the fresh server (target <= {TARGETS[what]:g} s), {warm:.2f} s again once "
              f"warm ({cold / warm:.2f}x) {'PASS' if ok else 'FAIL'}")
    print(f"for reference: Evaluate's three charts drawn {charts:.2f} s after the request, the first time "
          "(the browser fetches plotly.js then)")
    ratio = dashboard / minimal
    ok = ratio <= FIRST_PAGE_RATIO
    passed = passed and ok
    print(f"first page: {dashboard:.2f} s, minimal app {minimal:.2f} s (medians of {args.runs} cold starts): "
          f"{ratio:.2f}x (target <= {FIRST_PAGE_RATIO:g}x) {'PASS' if ok else 'FAIL'}")
    print("PASS" if passed else "FAIL")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
