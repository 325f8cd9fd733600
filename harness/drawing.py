"""Drawing on the Draw page's canvas in a real Chromium, with a mouse or a finger: what the browser tests and the
drawing benchmarks share.

The canvas (streamlit-drawable-canvas) lives in a shadow root; Playwright's CSS selectors pierce it. A finger is
Chrome's own touch input (DevTools Protocol ``Input.dispatchTouchEvent``), so the page gets the pointer, touch
and scroll behaviour a phone gives it, not events made up in JavaScript.
"""

from __future__ import annotations

from typing import Sequence

CANVAS = '[data-testid="stBidiComponentIsolated"] .upper-canvas'  # Fabric's canvas that takes the pen
METRIC = '[data-testid="stMetric"]'
RESET = "Reset canvas & history"  # the canvas toolbar's Clear (its bin)
# One-stroke digits as polylines in the unit square (x right, y down).
DIGITS = {
    "7": [(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)],
    "1": [(0.5, 0.15), (0.5, 0.85)],
    "2": [(0.3, 0.3), (0.5, 0.15), (0.7, 0.3), (0.3, 0.85), (0.75, 0.85)],
    "0": [(0.5, 0.15), (0.7, 0.3), (0.72, 0.7), (0.5, 0.85), (0.3, 0.7), (0.28, 0.3), (0.5, 0.15)],
    "4": [(0.6, 0.85), (0.6, 0.15), (0.25, 0.6), (0.75, 0.6)],
    "3": [(0.3, 0.2), (0.7, 0.25), (0.45, 0.5), (0.72, 0.7), (0.3, 0.85)],
}
STEPS = 8  # pointer moves between two corners of a digit


def canvas_points(page, points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Unit-square ``points`` -> page coordinates on the (last) canvas, scrolled into view first."""
    canvas = page.locator(CANVAS).last
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    return [(box["x"] + box["width"] * x, box["y"] + box["height"] * y) for x, y in points]


def mouse_stroke(page, points: Sequence[tuple[float, float]]) -> None:
    """One stroke through page coordinates ``points`` with the mouse's left button."""
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x, y, steps=STEPS)
    page.mouse.up()


def touch_stroke(page, points: Sequence[tuple[float, float]]) -> None:
    """One stroke through page coordinates ``points`` with a finger (the page's context needs has_touch=True)."""
    session = page.context.new_cdp_session(page)
    touch = lambda kind, x=None, y=None: session.send(  # noqa: E731
        "Input.dispatchTouchEvent", {"type": kind, "touchPoints": [] if x is None else [{"x": x, "y": y}]})
    touch("touchStart", *points[0])
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        for step in range(1, STEPS + 1):
            touch("touchMove", x0 + (x1 - x0) * step / STEPS, y0 + (y1 - y0) * step / STEPS)
    touch("touchEnd")
    session.detach()


def draw_digit(page, digit: str, touch: bool = False) -> None:
    """Draw one of DIGITS on the canvas, with the mouse or a finger."""
    points = canvas_points(page, DIGITS[digit])
    (touch_stroke if touch else mouse_stroke)(page, points)


def shown_guess(page) -> str:
    """The digit the Prediction metric shows ('–' before a drawing)."""
    metric = page.locator(METRIC).filter(has_text="Prediction")
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


def toolbar_button(page, name: str):
    """The canvas toolbar's button ``name`` ("Undo", "Redo" or RESET)."""
    return page.get_by_role("button", name=name, exact=True).last


def press_toolbar(page, name: str, touch: bool = False) -> None:
    """Press a toolbar button: with the mouse over the canvas first (its toolbar shows on hover), or a finger's tap
    (on a touch screen the toolbar is always shown)."""
    if touch:
        toolbar_button(page, name).tap()
    else:
        page.locator(CANVAS).last.hover()
        toolbar_button(page, name).click()


def wait_for_no_guess(page, timeout_ms: float = 60_000) -> None:
    """Until the page shows the Prediction metric without a digit, its script run over."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('%s')].some(m => m.innerText.includes('Prediction')"
        " && !/Prediction\\s*\\d/.test(m.innerText))"
        " && !document.querySelector('[data-testid=\"stStatusWidgetRunningIcon\"]')" % METRIC, timeout=timeout_ms)


def clear_canvas(page, touch: bool = False, timeout_ms: float = 60_000) -> None:
    """Press the canvas toolbar's Clear and wait for the page to show no guess."""
    press_toolbar(page, RESET, touch)
    wait_for_no_guess(page, timeout_ms)
