"""A class as Chromium shows it (issue 19): the join QR code, the sidebar's percentage and the teacher's Runs page
during a run, the projector's type, 1024-px screens, whose model the projector shows, the steps after training,
refused actions and seeds. One server (tiny digits, a teacher key, one run at a time) for the whole module."""

from __future__ import annotations

import re
import time
from types import SimpleNamespace

import psutil
import pytest

from core import classroom
from core.model.store import ModelStore
from core.training.child_process import CHILD_NICENESS
from harness.live_server import CHROMIUM, CHROMIUM_ARGS, browser_missing, streamlit_server, tensorflow_loaded
from helpers.browser import (
    MAIN,
    PAGE_TIMEOUT_MS,
    SIDEBAR,
    assert_no_error,
    choose,
    cut_labels,
    open_page,
    smallest_font_sizes,
    unlock_teacher,
    wait_until_idle,
)
from helpers.digits import make_tiny_data, npz_bytes

pytestmark = pytest.mark.slow
TEACHER_KEY = "owl-42"
RUN_TIMEOUT_MS = 180_000  # a cold training worker imports TensorFlow first: a bound for a hang, never a target

if browser_missing():
    pytest.skip(browser_missing(), allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A class's server: tiny digits, a teacher key, one run at a time (so a second run queues)."""
    digits = tmp_path_factory.mktemp("digits") / "tiny_mnist.npz"
    digits.write_bytes(npz_bytes(make_tiny_data()))
    models = tmp_path_factory.mktemp("models")
    env = {"MNIST_PATH": str(digits), "MNIST_MODELS_DIR": str(models), "MNIST_TEACHER_KEY": TEACHER_KEY,
           "MNIST_MAX_TRAINING": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    with streamlit_server(env) as (base_url, process, _seconds):
        yield SimpleNamespace(url=base_url, models=models, process=process)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser):
    """new_page(width, height): a tab in a browser context of its own, one browser session (a student, the
    teacher, the projector); closed after the test."""
    contexts = []

    def make(width: int = 1366, height: int = 768):
        contexts.append(browser.new_context(viewport={"width": width, "height": height}))
        return contexts[-1].new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="module")
def class_models(server, tiny_result):
    """The teacher's model, then a newer one of a student's, saved as the server's workers save them."""
    store = ModelStore(server.models)
    store.save("teacher-net", tiny_result, drawn_accuracy=0.9)
    store.save("ada-net", tiny_result, owner="Ada", drawn_accuracy=0.9)
    return store


def main_text(page) -> str:
    return page.inner_text(MAIN)


def wait_for_percentage(page, above: int) -> int:
    """The sidebar's "Training: N% done" once N is above ``above``."""
    found = page.wait_for_function(
        """above => { const text = document.querySelector('[data-testid="stSidebar"]')?.innerText || '';
                      const match = text.match(/Training: (\\d+)% done/);
                      return match && Number(match[1]) > above ? Number(match[1]) : null; }""",
        arg=above, timeout=RUN_TIMEOUT_MS)
    return found.json_value()


def wait_for_large_type(page) -> None:
    """Wait until the page has the projector's type (dashboard.large_type) and has finished its run."""
    page.wait_for_function("() => getComputedStyle(document.documentElement).fontSize === '24px'",
                           timeout=PAGE_TIMEOUT_MS)
    wait_until_idle(page)


def wait_until(condition, what: str, seconds: float = RUN_TIMEOUT_MS / 1000) -> None:
    """Poll ``condition()`` until it holds; fail naming ``what`` after ``seconds`` (a hang, never a target)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited in vain for {what}")
        time.sleep(0.2)


def test_once_the_first_page_is_served_the_server_prepares_tensorflow_and_a_worker(server, new_page):
    """First in this module: the server has served no page yet."""
    server_process = psutil.Process(server.process.pid)
    assert not tensorflow_loaded(server_process.pid) and not server_process.children()
    page = new_page()
    open_page(page, server.url, "")

    def worker_ready() -> bool:  # a child of the server, at the workers' low priority, with TensorFlow loaded
        return any(child.nice() == min(19, server_process.nice() + CHILD_NICENESS) and tensorflow_loaded(child.pid)
                   for child in server_process.children())

    wait_until(lambda: tensorflow_loaded(server_process.pid), "TensorFlow in the server")
    wait_until(worker_ready, "a training worker with TensorFlow loaded")
    assert_no_error(page)


def test_the_join_qr_code_is_an_image_the_browser_shows(server, new_page):
    page = new_page()
    open_page(page, server.url, "models")
    page.get_by_text("or scan:").wait_for(timeout=PAGE_TIMEOUT_MS)
    wait_until_idle(page)
    code = page.locator(f'{MAIN} img[alt^="QR code of http://"]')
    code.first.wait_for(timeout=PAGE_TIMEOUT_MS)  # drawn in the expander after its text
    assert code.count() == 1, "no QR code under 'or scan:'"
    code.scroll_into_view_if_needed()
    width, height, shown = code.evaluate(
        "image => [image.naturalWidth, image.naturalHeight, image.getBoundingClientRect().width]")
    assert width >= 100 and height == width and shown >= 100  # decoded and drawn: a phone can scan it
    assert code.is_visible()


def test_a_run_moves_the_sidebar_and_the_teacher_sees_and_stops_it_on_the_runs_page(server, new_page):
    student = new_page()
    # 15,000 single-digit steps of the CNN: long enough to watch on any machine; the teacher stops it.
    open_page(student, server.url, "train", "?preset=cnn&batch_size=1&epochs=50&name=Pat")
    student.get_by_role("button", name="Start", exact=True).click()
    first = wait_for_percentage(student, above=0)
    wait_for_percentage(student, above=first)  # it moves while the page shows the run

    teacher = new_page()
    open_page(teacher, server.url, "runs")
    unlock_teacher(teacher, TEACHER_KEY)
    row = teacher.locator(f'{MAIN} [data-testid="stHorizontalBlock"]').filter(has_text="Pat")
    row.filter(has_text="training").wait_for(timeout=PAGE_TIMEOUT_MS)
    assert "cnn" in row.inner_text() and re.search(r"\d+ s", row.inner_text())  # preset, time left
    row.get_by_role("button", name="Stop").click()
    student.get_by_text("Stopped after").wait_for(timeout=RUN_TIMEOUT_MS)  # the student's page says so
    teacher.get_by_text("No run is training or waiting").wait_for(timeout=PAGE_TIMEOUT_MS)
    assert_no_error(student)
    assert_no_error(teacher)


def test_right_after_training_the_next_step_waits_for_the_model_and_the_run_keeps_its_seed(server, new_page):
    page = new_page()
    open_page(page, server.url, "", "?step=13&name=Kim")
    page.get_by_role("button", name="Train for 5 epochs", exact=True).click()
    page.get_by_role("button", name="Next").first.click()  # at once, while the run trains and saves
    page.get_by_text("read by the model").wait_for(timeout=RUN_TIMEOUT_MS)  # step 14 shows it once saved
    assert "by Kim" in main_text(page) and "No trained network yet" not in main_text(page)
    assert main_text(page).count("14. What the network learned") == 1

    page.get_by_role("button", name="Previous").first.click()  # the run, with its seed and the link that repeats it
    page.get_by_text("this link").wait_for(timeout=PAGE_TIMEOUT_MS)
    seed = re.search(r"Seed (\d+): this link", main_text(page)).group(1)
    link = page.get_by_role("link", name="this link").get_attribute("href")
    assert re.fullmatch(rf"train\?preset=lecture&seed={seed}", link), link
    again = new_page()
    open_page(again, server.url, link)
    again.wait_for_function("seed => document.querySelector('input[aria-label=\"Seed\"]')?.value === seed", arg=seed,
                            timeout=PAGE_TIMEOUT_MS)  # the form is filled from the link as the page's run goes on
    other = new_page()  # a new setup elsewhere draws its own seed, kept in its link
    open_page(other, server.url, "train")
    other_seed = other.wait_for_function(
        """() => { const seed = new URL(location.href).searchParams.get('seed');
                   const shown = document.querySelector('input[aria-label="Seed"]')?.value;
                   return seed && shown === seed ? seed : null; }""", timeout=PAGE_TIMEOUT_MS).json_value()
    assert other_seed != seed
    assert_no_error(page)


def test_the_projector_shows_the_teachers_model_and_a_student_their_own(server, new_page, class_models):
    projector = new_page()
    open_page(projector, server.url, "", "?step=15&present=1")
    projector.get_by_text("Accuracy on test data").wait_for(timeout=PAGE_TIMEOUT_MS)
    shown = main_text(projector)
    assert "teacher-net" in shown and "the teacher's" in shown
    assert not re.search(r"\bby (Ada|Pat|Kim)\b", shown) and "ada-net" not in shown
    ada = new_page()
    open_page(ada, server.url, "", "?step=15&name=Ada")
    ada.get_by_text("Accuracy on test data").wait_for(timeout=PAGE_TIMEOUT_MS)
    assert "ada-net" in main_text(ada) and "by Ada" in main_text(ada)
    assert "Active model: ada-net (by Ada" in ada.inner_text(SIDEBAR)  # named with its owner
    assert_no_error(projector)
    assert_no_error(ada)


def test_present_and_presenting_enlarge_every_kind_of_text(server, new_page, class_models):
    def assert_large(sizes: dict, *kinds: str) -> None:
        lowest = {"body": 24, "code": 20, "table": 16, "chart": 16}
        assert all(sizes[kind] is not None and sizes[kind] >= lowest[kind] for kind in kinds), sizes

    projector = new_page()
    open_page(projector, server.url, "", "?step=2&present=1")  # prose, code and the pixel table
    for shown in ("pre.code-block", "td"):  # the step's content, drawn after its title
        projector.locator(f"{MAIN} {shown}").first.wait_for(timeout=PAGE_TIMEOUT_MS)
    assert_large(smallest_font_sizes(projector), "body", "code", "table")
    open_page(projector, server.url, "", "?step=10&present=1")  # a chart
    projector.locator(f"{MAIN} .main-svg text").first.wait_for(timeout=PAGE_TIMEOUT_MS)
    assert_large(smallest_font_sizes(projector), "body", "code", "chart")
    open_page(projector, server.url, "models", "?present=1")  # the leaderboard
    projector.get_by_text("Leaderboard").wait_for(timeout=PAGE_TIMEOUT_MS)
    projector.locator(f"{MAIN} td").first.wait_for(timeout=PAGE_TIMEOUT_MS)
    assert_large(smallest_font_sizes(projector), "body", "table")

    teacher = new_page()
    open_page(teacher, server.url, "", "?step=2")
    assert smallest_font_sizes(teacher)["body"] < 24
    teacher.get_by_role("button", name="Presenting").click()
    teacher.wait_for_url(re.compile(r"presenting=1"), timeout=PAGE_TIMEOUT_MS)
    wait_for_large_type(teacher)
    assert_large(smallest_font_sizes(teacher), "body", "code", "table")
    teacher.reload()  # the address bar keeps it
    teacher.locator(f"{MAIN} h2").first.wait_for(timeout=PAGE_TIMEOUT_MS)
    wait_for_large_type(teacher)
    assert_large(smallest_font_sizes(teacher), "body", "code", "table")


def test_at_1024_px_no_button_label_is_cut_and_the_leaderboard_is_whole(server, new_page, class_models):
    page = new_page(1024, 768)
    open_page(page, server.url, "", "?step=13")
    for name in ("Previous", "Next", "Presenting"):
        page.get_by_role("button", name=name).first.wait_for(timeout=PAGE_TIMEOUT_MS)
    assert cut_labels(page) == []
    page.get_by_role("button", name="Presenting").click()  # and with the projector's type
    wait_for_large_type(page)
    assert cut_labels(page) == []
    open_page(page, server.url, "models")
    page.locator(f"{MAIN} td").first.wait_for(timeout=PAGE_TIMEOUT_MS)
    wait_until_idle(page)
    assert cut_labels(page) == []


def test_a_refused_action_names_every_broken_rule_beside_its_control(server, new_page, class_models):
    student = new_page()
    open_page(student, server.url, "models", "?name=Bo")
    choose(student, "Model", "teacher-net")
    student.get_by_text("Yes, delete teacher-net").click()
    wait_until_idle(student)
    delete = student.get_by_role("button", name="Delete", exact=True)
    # The button at the very bottom of the screen, as a student scrolls to it: the refusal is drawn below the fold.
    delete.evaluate("button => button.scrollIntoView({block: 'end'})")
    delete.click()
    refusal = student.locator(f'{MAIN} [data-testid="stAlert"]').filter(has_text="only the teacher can delete it")
    refusal.wait_for(timeout=PAGE_TIMEOUT_MS)
    # Right under the button the student pressed, and in view: not at the top of the page.
    assert 0 <= refusal.bounding_box()["y"] - delete.bounding_box()["y"] <= 250
    # Brought into view (dashboard.action_message), once the page around it has settled (the leaderboard above
    # redraws itself).
    refusal.element_handle().wait_for_element_state("stable", timeout=PAGE_TIMEOUT_MS)
    assert refusal.evaluate("alert => { const box = alert.getBoundingClientRect(); "
                            "return box.top >= 0 && box.bottom <= window.innerHeight; }")

    classroom.save_rules(classroom.ClassRules(("cnn",), 2), server.models)
    try:
        open_page(student, server.url, "train", "?preset=lecture&epochs=5&name=Bo")
        student.get_by_role("button", name="Start", exact=True).click()
        refusal = student.locator(f'{MAIN} [data-testid="stAlert"]').filter(has_text="Training cannot start")
        refusal.wait_for(timeout=PAGE_TIMEOUT_MS)
        assert "epochs is 5" in refusal.inner_text() and "not allowed in this class" in refusal.inner_text()
    finally:
        (server.models / classroom.RULES_FILE).unlink()
    assert_no_error(student)
