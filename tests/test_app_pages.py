"""Every dashboard page in Streamlit's AppTest: renders with and without a saved model, the sidebar,
the Digits page (no TensorFlow, uploads) and Models (Evaluate has its own file, test_app_evaluate.py)."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest

from core.model.store import ModelStore
from helpers.apptest import app_in_a_fresh_interpreter, code_blocks, open_page, texts
from helpers.digits import make_tiny_data, npz_bytes

PAGES = ["lecture", "digits", "train", "evaluate", "draw", "models", "runs"]
ROOT = Path(__file__).resolve().parents[1]


def test_no_page_relies_on_magic():
    """.streamlit/config.toml turns magic off, so a bare expression in a page script would show nothing."""
    assert tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["runner"]["magicEnabled"] is False
    scripts = [ROOT / "dashboard" / "app.py", *sorted((ROOT / "dashboard" / "views").glob("[!_]*.py"))]
    silent = []
    for script in scripts:
        tree = ast.parse(script.read_text())
        docstrings = {id(owner.body[0]) for owner in ast.walk(tree)
                      if isinstance(owner, (ast.Module, ast.FunctionDef, ast.ClassDef)) and ast.get_docstring(owner)}
        silent += [f"{script.name}:{node.lineno}" for node in ast.walk(tree)
                   if isinstance(node, ast.Expr) and id(node) not in docstrings
                   and not isinstance(node.value, (ast.Call, ast.Await, ast.Yield))]
    assert len(scripts) == 8 and not silent, silent


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_a_saved_model(tiny_npz, page):
    at = open_page(page)
    assert not at.exception
    assert not at.error
    assert "Active model:** none saved yet" in " ".join(texts(at.sidebar.markdown))


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_with_a_saved_model(tiny_npz, saved_model, page):
    at = open_page(page)
    assert not at.exception
    assert not at.error
    assert f"**Active model:** {saved_model}" in " ".join(texts(at.sidebar.markdown))


def test_the_sidebar_says_where_the_digits_came_from(tiny_npz):
    at = open_page("digits")
    assert "300 train / 100 test digits from tiny_mnist.npz" in " ".join(texts(at.sidebar.markdown))


def test_the_sample_says_how_to_get_the_full_set(monkeypatch):
    from core.data.mnist import KERAS_CACHE_FILE

    if KERAS_CACHE_FILE.is_file():
        pytest.skip("a Keras cache of the full set exists here, so the sample is never used")
    monkeypatch.delenv("MNIST_PATH", raising=False)
    at = open_page("digits")
    warning = " ".join(texts(at.sidebar.warning))
    assert "5,000-digit sample" in warning and "MNIST_PATH" in warning


def test_a_bad_mnist_path_is_reported_and_the_sample_shown(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_PATH", str(tmp_path / "missing.npz"))
    at = open_page("digits")
    assert not at.exception
    assert "missing.npz: no such file" in " ".join(texts(at.sidebar.error))
    assert "5,000-digit sample" in " ".join(texts(at.sidebar.warning))


@pytest.mark.parametrize("page", ["lecture", "digits"])
def test_the_first_pages_and_sidebar_never_import_tensorflow(tiny_npz, saved_model, page):
    """Checked in a fresh interpreter: in this one, other tests have imported TensorFlow already."""
    shown = app_in_a_fresh_interpreter(
        "at = AppTest.from_file(APP, default_timeout=60).run()\n"
        f"at = at.switch_page('views/{page}.py').run()\n"
        "print(json.dumps([len(at.exception), 'tensorflow' in sys.modules, 'keras' in sys.modules]))\n")
    assert shown == [0, False, False]


def test_the_grid_grows_to_ten_by_ten_and_filters_by_label(tiny_npz):
    at = open_page("digits")
    assert code_blocks(at)[0] == ("text", str(make_tiny_data().y_train[:25].reshape(5, 5)))  # the lecture's label grid
    at.slider(key="digits_side").set_value(10).run()
    assert code_blocks(at)[0] == ("text", str(make_tiny_data().y_train[:100].reshape(10, 10)))
    at.selectbox(key="digits_label").set_value(3).run()  # the tiny set has 30 threes: one partial page
    assert not at.exception
    grid_captions = re.findall(r"<figcaption[^>]*>([^<]*)</figcaption>", at.get("html")[0].value)
    assert grid_captions == ["3"] * 30


def test_the_test_set_can_be_paged_and_shuffled(tiny_npz):
    labels = make_tiny_data().y_test
    at = open_page("digits")
    at.radio(key="digits_split").set_value("test").run()
    at.number_input(key="digits_page").set_value(2).run()
    assert code_blocks(at)[0] == ("text", str(labels[25:50].reshape(5, 5)))
    next(button for button in at.button if button.label == "Shuffle").click().run()
    assert not at.exception
    assert at.number_input(key="digits_page").value == 1
    order = np.random.default_rng(at.session_state["digits_seed"]).permutation(len(labels))
    assert code_blocks(at)[0] == ("text", str(labels[order[:25]].reshape(5, 5)))


def test_one_digit_shows_its_label_and_one_hot_vector(tiny_npz):
    at = open_page("digits")
    label = int(make_tiny_data().y_train[0])
    assert at.metric[0].label == "Label" and at.metric[0].value == str(label)
    assert code_blocks(at)[1] == ("text", str(np.eye(10, dtype=np.float32)[label]))


def test_a_bad_upload_shows_the_message_and_keeps_the_digits(tiny_npz):
    at = open_page("digits")
    at.file_uploader[0].set_value(("broken.npz", b"not an npz at all", "application/octet-stream"))
    at.run()
    assert not at.exception
    message = " ".join(texts(at.error))
    assert message.startswith("broken.npz: not an npz file") and "have not changed" in message
    assert "from tiny_mnist.npz" in " ".join(texts(at.sidebar.markdown))


def test_a_good_upload_switches_this_session_and_can_be_undone(tiny_npz):
    smaller = make_tiny_data(train=120, test=40)
    at = open_page("digits")
    at.file_uploader[0].set_value(("class.npz", npz_bytes(smaller), "application/octet-stream"))
    at.run()
    assert not at.exception and not at.error
    assert "120 train / 40 test digits from class.npz" in " ".join(texts(at.sidebar.markdown))
    assert code_blocks(at)[0] == ("text", str(smaller.y_train[:25].reshape(5, 5)))
    next(button for button in at.button if button.label == "Back to the default digits").click().run()
    assert "from tiny_mnist.npz" in " ".join(texts(at.sidebar.markdown))


def test_models_lists_renames_and_deletes(tiny_npz, saved_model):
    at = open_page("models")
    table = at.dataframe[0].value
    assert list(table["name"]) == [saved_model] and "test accuracy" in table.columns
    assert at.get("download_button")[0].proto.label == "Download .keras"
    at.text_input(key=f"models_new_name_{saved_model}").set_value("my model")
    next(button for button in at.button if button.label == "Rename").click().run()
    assert "Renamed tiny-lecture to my model." in texts(at.success)
    assert [info.name for info in ModelStore().list().models] == ["my model"]
    at.checkbox(key="models_sure_my model").check().run()
    next(button for button in at.button if button.label == "Delete").click().run()
    assert "Deleted my model." in texts(at.success)
    assert ModelStore().list().models == []
    assert not at.exception


def test_a_rename_to_a_bad_name_says_why(tiny_npz, saved_model):
    at = open_page("models")
    at.text_input(key=f"models_new_name_{saved_model}").set_value("../escape")
    next(button for button in at.button if button.label == "Rename").click().run()
    assert "is not a usable model name" in " ".join(texts(at.error))
    assert Path(ModelStore().path_of(saved_model)).is_file()


def test_a_damaged_model_file_is_listed_as_a_problem(tiny_npz, saved_model, private_models_dir):
    (private_models_dir / "broken.keras").write_bytes(b"not a zip")
    at = open_page("models")
    assert not at.exception
    assert any(warning.startswith("broken.keras is skipped") for warning in texts(at.warning))
