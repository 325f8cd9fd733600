"""End to end in a real browser: every page opens, the Lecture page steps forward, a training run
shows its chart and accuracy, and a digit drawn with the mouse gets a prediction and a saliency map.
Screenshots go to artifacts/."""

from __future__ import annotations

import re

import pytest

from harness.live_server import CHROMIUM, CHROMIUM_ARGS, ROOT, browser_missing, streamlit_server
from helpers.browser import MAIN, assert_no_error, open_page, wait_until_idle

pytestmark = pytest.mark.slow
ARTIFACTS = ROOT / "artifacts"
# URL path -> title; Lecture is the default page, served at the root.
PAGES = {"": "Lecture", "digits": "Digits", "train": "Train", "evaluate": "Evaluate", "draw": "Draw",
         "models": "Models"}


if browser_missing():
    pytest.skip(browser_missing(), allow_module_level=True)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    env = {"MNIST_MODELS_DIR": str(tmp_path_factory.mktemp("models")), "TF_CPP_MIN_LOG_LEVEL": "3"}
    with streamlit_server(env) as (base_url, _process, _seconds):
        yield base_url


@pytest.fixture(scope="module")
def page(app):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 1800})  # tall: the pages scroll inside
        yield tab
        browser.close()


def test_every_page_opens_and_asks_nothing_of_another_server(app, page):
    elsewhere = []  # a classroom may be offline, and students' browsers should not call third parties
    page.on("request", lambda request: None if request.url.startswith((app, "data:", "blob:"))
            else elsewhere.append(request.url))
    for slug, title in PAGES.items():
        open_page(page, app, slug)
        assert title in page.inner_text('[data-testid="stMain"] h1')
        assert_no_error(page)
        page.screenshot(path=str(ARTIFACTS / f"{title.lower()}-empty.png"), full_page=True)
    assert elsewhere == []


def test_the_lecture_steps_forward_with_next(app, page):
    open_page(page, app, "")
    step = page.locator(f"{MAIN} h2").first
    assert step.inner_text().startswith("1.")
    for number in (2, 3, 4):
        page.get_by_role("button", name="Next").first.click()
        page.wait_for_function(
            "number => document.querySelector('[data-testid=\"stMain\"] h2')?.innerText.startsWith(number + '.')",
            arg=number, timeout=60_000)
        wait_until_idle(page)
        assert_no_error(page)
    assert "step=4" in page.url  # the address bar holds the step


def test_the_step_list_and_the_name_box_open_from_their_popovers_and_fold_away(app, page):
    open_page(page, app, "")
    page.get_by_role("button", name="Step 1 of 15").click()
    page.get_by_text("6. One-hot labels", exact=True).click()
    page.wait_for_function("() => document.querySelector('[data-testid=\"stMain\"] h2')?.innerText.startsWith('6.')",
                           timeout=60_000)
    wait_until_idle(page)
    assert "step=6" in page.url
    page.get_by_text("7. The network", exact=True).wait_for(state="hidden", timeout=60_000)  # the list folded away
    page.get_by_role("button", name="Your name").click()
    name_box = page.get_by_role("textbox", name="Your name")
    name_box.fill("Ada")
    name_box.press("Enter")
    page.get_by_role("button", name="Your name: Ada").wait_for(timeout=60_000)
    name_box.wait_for(state="hidden", timeout=60_000)
    assert "name=Ada" in page.url and "step=6" in page.url
    assert_no_error(page)


def test_train_one_epoch_shows_chart_and_accuracy(app, page):
    open_page(page, app, "train", "?preset=lecture&epochs=1")
    page.get_by_role("button", name="Start", exact=True).click()
    page.get_by_text("Accuracy on test data").first.wait_for(timeout=180_000)
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 1, "no loss chart"
    assert re.search(r"Accuracy on test data:?\s*0\.\d+", page.inner_text('[data-testid="stMain"]'))
    assert_no_error(page)
    page.screenshot(path=str(ARTIFACTS / "train.png"), full_page=True)


def test_draw_a_digit_and_see_the_prediction(app, page):
    open_page(page, app, "draw")
    canvas = page.locator("canvas").last
    canvas.wait_for(timeout=60_000)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box and box["width"] >= 200, f"canvas not found or too small: {box}"
    # A "7": a bar across the top, then a stroke down to the lower left.
    left, top, width, height = box["x"], box["y"], box["width"], box["height"]
    points = [(0.3, 0.25), (0.7, 0.25), (0.45, 0.8)]
    page.mouse.move(left + width * points[0][0], top + height * points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(left + width * x, top + height * y, steps=15)
    page.mouse.up()
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Prediction")
    metric.wait_for(timeout=60_000)
    assert metric.locator('[data-testid="stMetricValue"]').inner_text().strip() == "7"
    page.get_by_text("What the model sees").wait_for(timeout=30_000)
    page.locator(f'{MAIN} img[alt^="saliency towards 7"]').wait_for(timeout=60_000)  # why: the saliency map
    wait_until_idle(page)
    assert_no_error(page)
    page.screenshot(path=str(ARTIFACTS / "draw.png"), full_page=True)
    # With a model saved, the other pages show their full content.
    for slug, content in (("evaluate", "The lecture's first five test digits"), ("models", "Loss curves to compare"),
                          ("digits", "The average digit of each class")):
        open_page(page, app, slug)
        page.get_by_text(content).first.wait_for(timeout=120_000)
        wait_until_idle(page)
        assert_no_error(page)
        page.screenshot(path=str(ARTIFACTS / f"{slug}.png"), full_page=True)
        if slug == "evaluate":  # the tab a class opens next: the test digits as a map
            page.get_by_role("tab", name="Embedding map").click()
            page.locator(f'{MAIN} [data-testid="stPlotlyChart"] .scatterlayer').first.wait_for(timeout=120_000)
            wait_until_idle(page)
            assert_no_error(page)
            page.screenshot(path=str(ARTIFACTS / "evaluate-embedding.png"), full_page=True)
