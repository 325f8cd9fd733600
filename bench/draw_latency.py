"""Draw latency: from lifting the pen to the `Prediction` shown, in a real browser.

Starts the real app (`streamlit run dashboard/app.py`) on a loopback port with
a freshly trained Lecture model, opens the Draw page in Debian's Chromium and,
round after round, presses Clear, draws a one-stroke digit with the mouse and
times, inside the page, from the pen's `pointerup` to the frame that first
paints the `Prediction` metric. Clear removes the metric (a blank canvas shows no
guess), so its appearing is always the new guess, whatever digit it names.
Both timestamps are the page's own `performance.now()`. One warm-up round
(TensorFlow loading, the model's first call) is not timed.
Target: p95 <= 150 ms.

    MNIST_PATH=../shared/data/mnist_data.npz python bench/draw_latency.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: no start-up chatter

ROOT = pathlib.Path(__file__).resolve().parents[1]

from harness.live_server import CHROMIUM, CHROMIUM_ARGS, INSTALL_HINT, chromium_available, streamlit_server  # noqa: E402

TARGET_P95_MS = 150.0
# One-stroke digits as polylines in the unit square (x right, y down), drawn in turn.
DIGITS = {
    "7": [(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)],
    "1": [(0.5, 0.15), (0.5, 0.85)],
    "2": [(0.3, 0.3), (0.5, 0.15), (0.7, 0.3), (0.3, 0.85), (0.75, 0.85)],
    "0": [(0.5, 0.15), (0.7, 0.3), (0.72, 0.7), (0.5, 0.85), (0.3, 0.7), (0.28, 0.3), (0.5, 0.15)],
    "4": [(0.6, 0.85), (0.6, 0.15), (0.25, 0.6), (0.75, 0.6)],
    "3": [(0.3, 0.2), (0.7, 0.25), (0.45, 0.5), (0.72, 0.7), (0.3, 0.85)],
}
METRIC = '[data-testid="stMetric"]'
# Installed before each drawing: stamps the pen's lift, and the frame that first paints a Prediction metric
# (the animation frame after the metric enters the page).
WATCH = """() => {
  const times = window.__drawTimes = {up: null, shown: null, answered: null};
  const shown = () => [...document.querySelectorAll('%s')].some(m => m.innerText.includes('Prediction'));
  window.addEventListener('pointerup', () => { times.up = performance.now(); }, {capture: true, once: true});
  const observer = new MutationObserver(() => {
    if (times.up === null || !shown()) return;
    observer.disconnect();
    requestAnimationFrame(() => { times.shown = performance.now(); });
  });
  observer.observe(document.body, {childList: true, subtree: true, characterData: true});
}""" % METRIC
# Installed before the page loads (page.add_init_script): stamps the arrival of the first message from
# the server that carries a Prediction after the pen's lift. Pen up -> answered is the server's part
# (the stroke's trip, the script run, the answer's trip); answered -> shown is the browser's drawing.
ANSWER_HOOK = """window.WebSocket = class extends window.WebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener('message', event => {
      const times = window.__drawTimes;
      if (!times || times.up === null || times.answered !== null || !(event.data instanceof ArrayBuffer)) return;
      if (new TextDecoder('latin1').decode(event.data).includes('Prediction')) times.answered = performance.now();
    });
  }
};"""


def train_model(models_dir: str, data_path: str | None, epochs: int) -> str:
    """Train the Lecture preset and save it in ``models_dir``; returns a one-line description."""
    from core.data.mnist import load_mnist
    from core.model.config import preset
    from core.model.store import ModelStore
    from core.training.loop import train

    data = load_mnist(data_path)
    result = train(preset("lecture").replace(epochs=epochs), data)
    ModelStore(models_dir).save("lecture", result)
    return f"lecture preset, {epochs} epoch(s) on {data.description}, test accuracy {result.test_accuracy:.4f}"


def clear(page) -> None:
    """Press Clear and wait for a fresh, empty pad (a new canvas element) with no guess beside it."""
    old_pad = page.locator("canvas").last.element_handle()
    page.get_by_role("button", name="Clear", exact=True).click()
    page.wait_for_function(
        "old => !old.isConnected"
        " && ![...document.querySelectorAll('%s')].some(m => m.innerText.includes('Prediction'))"
        " && !document.querySelector('[data-testid=\"stStatusWidgetRunningIcon\"]')" % METRIC,
        arg=old_pad, timeout=60_000)
    page.locator("canvas").last.wait_for(timeout=60_000)


def draw(page, points) -> None:
    """One stroke through ``points`` (unit square) on the canvas, with real mouse events."""
    canvas = page.locator("canvas").last
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    left, top, width, height = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(left + width * points[0][0], top + height * points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(left + width * x, top + height * y, steps=8)
    page.mouse.up()


def one_round(page, points) -> tuple[float, str]:
    """Clear, draw, and return (milliseconds from pen up to the Prediction shown, the digit it shows)."""
    clear(page)
    page.evaluate(WATCH)
    draw(page, points)
    page.wait_for_function("() => window.__drawTimes.shown !== null", timeout=60_000)
    times = page.evaluate("() => window.__drawTimes")
    guess = page.locator(METRIC).filter(has_text="Prediction").locator('[data-testid="stMetricValue"]').inner_text()
    return times["shown"] - times["up"], guess.strip()


def answered_ms(page) -> float | None:
    """After one_round, on a page with ANSWER_HOOK: milliseconds from pen up to the server's answer arriving."""
    times = page.evaluate("() => window.__drawTimes")
    return None if times["answered"] is None else times["answered"] - times["up"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="timed drawings")
    parser.add_argument("--epochs", type=int, default=1, help="training epochs (latency does not depend on them)")
    parser.add_argument("--data", default=None, help="MNIST file; default: MNIST_PATH, else the usual sources")
    args = parser.parse_args()
    if args.rounds < 1:
        raise SystemExit(f"--rounds must be at least 1, got {args.rounds}")
    if not chromium_available():
        print(f"Chromium not found at {CHROMIUM}; {INSTALL_HINT}")
        return 1
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as models_dir:
        print(f"model: {train_model(models_dir, args.data, args.epochs)}")
        env = {"MNIST_MODELS_DIR": models_dir, "TF_CPP_MIN_LOG_LEVEL": "3"}
        if args.data:
            env["MNIST_PATH"] = args.data
        with streamlit_server(env) as (base_url, _process, _seconds), sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            page.add_init_script(ANSWER_HOOK)
            page.goto(f"{base_url}/draw")
            page.locator("canvas").last.wait_for(timeout=120_000)
            shapes = list(DIGITS.items())
            one_round(page, shapes[0][1])  # warm-up: TensorFlow and the model's first call
            latencies, answers, guesses = [], [], []
            for index in range(args.rounds):
                drawn, points = shapes[index % len(shapes)]
                milliseconds, guess = one_round(page, points)
                latencies.append(milliseconds)
                answers.append(answered_ms(page))
                guesses.append(f"{drawn}->{guess}")
            browser.close()
    p50, p95 = np.percentile(latencies, [50, 95])
    print(f"drawn -> read: {' '.join(guesses)}")
    print(f"pen up -> Prediction shown, {args.rounds} drawings: p50 {p50:.0f} ms, p95 {p95:.0f} ms, "
          f"max {max(latencies):.0f} ms")
    arrived = [milliseconds for milliseconds in answers if milliseconds is not None]
    if arrived:
        print("of which the server's part (pen up -> the answer's message arrives): p50 {:.0f} ms, p95 {:.0f} ms"
              .format(*np.percentile(arrived, [50, 95])))
    print(f"machine: {os.cpu_count()} CPUs, load average over the last minute {os.getloadavg()[0]:.1f}")
    passed = p95 <= TARGET_P95_MS
    print(f"p95 {p95:.0f} ms (target <= {TARGET_P95_MS:g} ms) {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
