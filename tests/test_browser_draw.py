"""The Draw page's canvas (streamlit-drawable-canvas) in a real Chromium: digits drawn with the mouse on a laptop and
with a finger on a phone and a tablet are read right; the toolbar's Undo and Clear act in the browser and a touch
screen shows them; a stroke that starts under the hidden toolbar is kept; the page fits the screen and does not
scroll under a finger. One server and one trained model for the whole module."""

from __future__ import annotations

import pytest

from harness.drawing import (
    CANVAS,
    RESET,
    canvas_points,
    clear_canvas,
    draw_digit,
    mouse_stroke,
    press_toolbar,
    shown_guess,
    toolbar_button,
    touch_stroke,
    wait_for_no_guess,
)
from harness.live_server import CHROMIUM, CHROMIUM_ARGS, ROOT, browser_missing, streamlit_server
from helpers.browser import PAGE_TIMEOUT_MS, assert_no_error, wait_until_idle
from helpers.paths import FULL_MNIST

pytestmark = pytest.mark.slow
ARTIFACTS = ROOT / "artifacts"
LAPTOP = {"viewport": {"width": 1366, "height": 768}}
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "device_scale_factor": 2}
TABLET = {"viewport": {"width": 1024, "height": 768}, "has_touch": True}
SEEN = 'img[alt^="What the model sees"]'
# Every scrolled distance in the page: the window's and every element's.
SCROLLED = "() => [...document.querySelectorAll('*')].reduce((sum, element) => sum + element.scrollTop, window.scrollY)"

if browser_missing():
    pytest.skip(browser_missing(), allow_module_level=True)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The app on full MNIST with the Lecture network trained on it (2 epochs: 96%, enough to read clear digits)."""
    if not FULL_MNIST.is_file():
        pytest.skip(f"full MNIST not found at {FULL_MNIST}; set MNIST_PATH to run the drawing tests")
    from core.data.mnist import load_mnist
    from core.model.config import preset
    from core.model.store import ModelStore
    from core.training.loop import train

    models = tmp_path_factory.mktemp("models")
    ModelStore(models).save("lecture", train(preset("lecture").replace(epochs=2), load_mnist(str(FULL_MNIST))))
    env = {"MNIST_MODELS_DIR": str(models), "MNIST_PATH": str(FULL_MNIST), "TF_CPP_MIN_LOG_LEVEL": "3"}
    with streamlit_server(env) as (base_url, _process, _seconds):
        yield base_url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_draw_page(browser, app: str, device: dict, query: str = ""):
    """A new browser session on ``device`` with the Draw page open and its canvas ready."""
    page = browser.new_context(**device).new_page()
    page.goto(f"{app}/draw{query}")
    page.locator(CANVAS).last.wait_for(timeout=PAGE_TIMEOUT_MS)
    wait_for_no_guess(page, PAGE_TIMEOUT_MS)
    return page


def wait_for_guess(page) -> str:
    page.wait_for_function("() => /^\\d$/.test(document.querySelector('[data-testid=\"stMetricValue\"]')"
                           "?.innerText.trim() ?? '')", timeout=PAGE_TIMEOUT_MS)
    return shown_guess(page)


def in_view(page, locator) -> bool:
    box = locator.bounding_box()
    viewport = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"] \
        and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]


def draw_and_read(page, digits: str, touch: bool) -> list[str]:
    """Draw each of ``digits`` in turn, each on a cleared canvas; the guesses, and no scrolling while drawing."""
    guesses = []
    for index, digit in enumerate(digits):
        if index:
            clear_canvas(page, touch)
        before = page.evaluate(SCROLLED)
        draw_digit(page, digit, touch)
        guesses.append(wait_for_guess(page))
        assert page.evaluate(SCROLLED) == before, f"the page scrolled while the {digit} was drawn"
    return guesses


def test_three_digits_drawn_with_the_mouse_on_a_laptop_are_read_right(app, browser):
    page = open_draw_page(browser, app, LAPTOP)
    assert draw_and_read(page, "720", touch=False) == list("720")
    wait_until_idle(page)
    # At 1366x768 the canvas, the guess and what the model sees, all in view, unscrolled.
    assert page.evaluate(SCROLLED) == 0
    for element in (page.locator(CANVAS).last, page.locator('[data-testid="stMetric"]'), page.locator(SEEN)):
        assert in_view(page, element), f"{element} is not in view at 1366x768"
    # The toolbar shows over the canvas with Undo, Redo and Clear only: drawing is freehand.
    names = [button.get_attribute("aria-label") for button in page.locator(".dc-icon-button").all()
             if button.is_visible()]
    assert names == ["Undo", "Redo", RESET]
    assert_no_error(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "draw-laptop.png"))  # the mouse over the canvas: its toolbar shown
    press_toolbar(page, "Undo")  # in the browser: the only stroke goes, and the canvas says so to the server
    wait_for_no_guess(page)
    press_toolbar(page, "Redo")
    assert wait_for_guess(page) == "0"


def test_a_stroke_that_starts_under_the_hidden_toolbar_is_kept(app, browser):
    """The toolbar, invisible until the mouse is over the canvas, lies over the canvas's top right."""
    page = open_draw_page(browser, app, LAPTOP)
    page.mouse.move(5, 5)  # away from the canvas: its toolbar hidden
    opacity = toolbar_button(page, RESET).evaluate("button => getComputedStyle(button.closest('.dc-toolbar')).opacity")
    assert opacity == "0"
    mouse_stroke(page, canvas_points(page, [(0.9, 0.04), (0.9, 0.9)]))  # from the toolbar's strip down
    assert wait_for_guess(page) in "0123456789"


def test_the_projector_view_reads_a_drawing(app, browser):
    page = open_draw_page(browser, app, LAPTOP, "?present=1")
    draw_digit(page, "7")
    assert wait_for_guess(page) == "7"
    assert_no_error(page)


@pytest.mark.parametrize("device, digits", [(PHONE, "413"), (TABLET, "702")], ids=["phone", "tablet"])
def test_three_digits_drawn_with_a_finger_are_read_right(app, browser, device, digits):
    page = open_draw_page(browser, app, device)
    canvas = page.locator(CANVAS).last
    assert canvas.bounding_box()["x"] + canvas.bounding_box()["width"] <= device["viewport"]["width"]
    # No hover on a touch screen: Undo and Clear are always in sight, above the canvas, not over it.
    for name in ("Undo", RESET):
        button = toolbar_button(page, name)
        assert button.is_visible() and button.bounding_box()["y"] + button.bounding_box()["height"] \
            <= canvas.bounding_box()["y"]
    assert draw_and_read(page, digits, touch=True) == list(digits)
    seen = page.locator(SEEN).get_attribute("src")
    touch_stroke(page, canvas_points(page, [(0.9, 0.03), (0.9, 0.5)]))  # from the canvas's top right corner
    page.wait_for_function(f"src => document.querySelector('{SEEN}')?.src !== src", arg=seen, timeout=PAGE_TIMEOUT_MS)
    press_toolbar(page, "Undo", touch=True)  # that stroke goes again: the last digit is back
    page.wait_for_function(f"src => document.querySelector('{SEEN}')?.src === src", arg=seen, timeout=PAGE_TIMEOUT_MS)
    assert shown_guess(page) == digits[-1]
    assert_no_error(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"draw-{'phone' if device is PHONE else 'tablet'}.png"))
