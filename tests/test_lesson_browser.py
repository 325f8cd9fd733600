"""One lesson, scripted in Chromium: a teacher, two students and the projector, each in a browser context of their
own on one server. The teacher trains the Lecture's network and the projector shows it with the join QR code;
one student's long run trains while the other's waits in the queue, both on the teacher's Runs page, where the
teacher stops the first; then each student sees their own model and never the other's. The projector view and
the Runs page go to artifacts/ as screenshots."""

from __future__ import annotations

import re

import pytest

from harness.live_server import CHROMIUM, CHROMIUM_ARGS, ROOT, browser_missing, streamlit_server
from helpers.browser import (
    MAIN,
    PAGE_TIMEOUT_MS,
    SIDEBAR,
    assert_no_error,
    open_page,
    switch_page,
    unlock_teacher,
    wait_until_idle,
)
from helpers.digits import make_tiny_data, npz_bytes

pytestmark = pytest.mark.slow
ARTIFACTS = ROOT / "artifacts"
TEACHER_KEY = "owl-42"
RUN_TIMEOUT_MS = 180_000  # a bound for a hang (a cold worker imports TensorFlow first), never a target

if browser_missing():
    pytest.skip(browser_missing(), allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    digits = tmp_path_factory.mktemp("digits") / "tiny_mnist.npz"
    digits.write_bytes(npz_bytes(make_tiny_data()))
    env = {"MNIST_PATH": str(digits), "MNIST_MODELS_DIR": str(tmp_path_factory.mktemp("models")),
           "MNIST_TEACHER_KEY": TEACHER_KEY, "MNIST_MAX_TRAINING": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    with streamlit_server(env) as (base_url, _process, _seconds):
        yield base_url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def person(browser):
    """A browser context of its own (one person's device) and its tab."""
    return browser.new_context(viewport={"width": 1366, "height": 768}).new_page()


def text(page) -> str:
    return page.inner_text(MAIN)


def test_one_lesson_a_teacher_two_students_and_the_projector(server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    teacher, projector, ada, bo = (person(browser) for _ in range(4))

    # The teacher trains the lecture's network from the Lecture page.
    open_page(teacher, server, "", "?step=13")
    unlock_teacher(teacher, TEACHER_KEY)
    teacher.get_by_role("button", name="Train for 5 epochs", exact=True).click()
    teacher.get_by_text("Saved as").wait_for(timeout=RUN_TIMEOUT_MS)

    # The projector: the join link and its QR code, large; then the teacher's network on step 14.
    open_page(projector, server, "models", "?present=1")
    code = projector.locator(f'{MAIN} img[alt^="QR code of http://"]')
    code.wait_for(timeout=PAGE_TIMEOUT_MS)
    assert code.evaluate("image => image.naturalWidth") > 0 and code.is_visible()
    assert re.search(r"Open http://[\d.]+:\d+/ on a phone", text(projector))
    open_page(projector, server, "", "?step=14&present=1")
    projector.get_by_text("read by the model").wait_for(timeout=PAGE_TIMEOUT_MS)
    assert "the teacher's" in text(projector)
    wait_until_idle(projector)
    projector.screenshot(path=str(ARTIFACTS / "projector.png"))

    # Ada starts a long run; Bo's run waits behind it (one run at a time on this server).
    open_page(ada, server, "train", "?preset=cnn&batch_size=1&epochs=50&name=Ada")
    ada.get_by_role("button", name="Start", exact=True).click()
    ada.locator(SIDEBAR).get_by_text(re.compile(r"Training: [1-9]\d*% done")).wait_for(timeout=RUN_TIMEOUT_MS)
    open_page(bo, server, "", "?step=13&name=Bo")
    bo.get_by_role("button", name="Train for 5 epochs", exact=True).click()
    bo.get_by_text("Waiting in the queue").wait_for(timeout=PAGE_TIMEOUT_MS)

    # The teacher's Runs page: Ada training, Bo first in the queue; the teacher stops Ada's run.
    switch_page(teacher, "Runs")  # the same session: still the teacher
    rows = teacher.locator(f'{MAIN} [data-testid="stHorizontalBlock"]')
    rows.filter(has_text="Ada").filter(has_text="training").wait_for(timeout=PAGE_TIMEOUT_MS)
    queued = rows.filter(has_text="Bo")
    assert "lecture" in queued.inner_text() and re.search(r"\b1\b", queued.inner_text())
    teacher.screenshot(path=str(ARTIFACTS / "runs.png"))
    rows.filter(has_text="Ada").get_by_role("button", name="Stop").click()
    ada.get_by_text("Stopped after").wait_for(timeout=RUN_TIMEOUT_MS)
    bo.get_by_text("Saved as").wait_for(timeout=RUN_TIMEOUT_MS)  # Bo's run started once Ada's stopped

    # Each student's screen shows their own model, never the other's; the projector still the teacher's.
    for student, mine, theirs in ((ada, "Ada", "Bo"), (bo, "Bo", "Ada")):
        open_page(student, server, "", f"?step=14&name={mine}")
        student.get_by_text("read by the model").wait_for(timeout=PAGE_TIMEOUT_MS)
        assert f"by {mine}" in text(student) and f"by {theirs}" not in text(student)
        assert f"(by {mine}," in student.inner_text(SIDEBAR)
    projector.reload()
    projector.get_by_text("read by the model").wait_for(timeout=PAGE_TIMEOUT_MS)
    assert "the teacher's" in text(projector) and not re.search(r"by (Ada|Bo)\b", text(projector))
    for page in (teacher, projector, ada, bo):
        assert_no_error(page)
        page.context.close()
