"""The Evaluate page in Streamlit's AppTest (accuracies, saliency, embedding map, weights) and the
Models page's weight view, with an MLP and a CNN trained on tiny digits."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from core.data.mnist import load_file
from core.model.store import ModelStore
from dashboard import caches
from dashboard.figures import selected_digit
from helpers.apptest import html, open_page, texts
from helpers.digits import make_tiny_data, npz_bytes

WRONG_LABELS = 5  # test digits given a wrong label in mislabelled_npz, so that every model makes mistakes


@pytest.fixture
def mislabelled_npz(tmp_path, monkeypatch):
    """The tiny digits with the first WRONG_LABELS test labels moved on by one, and MNIST_PATH pointing at them."""
    data = make_tiny_data()
    data.y_test[:WRONG_LABELS] = (data.y_test[:WRONG_LABELS] + 1) % 10
    path = tmp_path / "mislabelled.npz"
    path.write_bytes(npz_bytes(data))
    monkeypatch.setenv("MNIST_PATH", str(path))
    return path


def count_predicted_rows(info, monkeypatch) -> list[int]:
    """Digits per call the cached model predicts from now on (the real predictions still run)."""
    model = caches.load_model(info)
    rows: list[int] = []
    predict = model.predict_on_batch

    def counting(pixels):
        rows.append(len(pixels))
        return predict(pixels)

    monkeypatch.setattr(model, "predict_on_batch", counting)
    return rows


def test_evaluate_shows_both_accuracies_like_the_lecture(tiny_npz, saved_model):
    at = open_page("evaluate")
    assert [metric.label for metric in at.metric] == ["Accuracy on training data", "Accuracy on test data"]
    assert re.fullmatch(r"[01]\.\d{4}", at.metric[1].value)  # 0.9615, like the lecture
    assert at.dataframe[0].value.shape == (10, 3)  # digit, precision, recall
    assert "The lecture's first five test digits" in texts(at.subheader)


def test_the_first_view_uses_the_saved_train_accuracy_and_predicts_only_the_test_digits(
        tiny_npz, tiny_result, monkeypatch):
    data = load_file(tiny_npz)
    info = ModelStore().save("same-data", dataclasses.replace(tiny_result, data_description=data.description))
    rows = count_predicted_rows(info, monkeypatch)
    at = open_page("evaluate")
    assert sum(rows) == len(data.x_test)  # the 300 training digits were not predicted
    assert at.metric[0].value == f"{tiny_result.train_accuracy:.4f}"
    assert "Measured when same-data finished training on these digits" in at.metric[0].proto.help
    assert "evaluate_measure_train_button" not in [button.key for button in at.button]


def test_saved_figures_of_other_digits_under_the_same_name_are_not_used(tiny_npz, tiny_result):
    data = load_file(tiny_npz)
    ModelStore().save("same-name", dataclasses.replace(  # as if trained on another file described alike
        tiny_result, data_description=data.description, train_accuracy=0.5, test_accuracy=0.5))
    at = open_page("evaluate")
    assert at.metric[0].value == "not measured"
    assert at.metric[1].value == f"{tiny_result.test_accuracy:.4f}"  # measured here, not the saved 0.5000


def test_other_data_measures_the_training_digits_only_when_asked(tiny_npz, saved_model, tiny_result, monkeypatch):
    from core.evaluation.metrics import evaluate_accuracy

    data = load_file(tiny_npz)  # the saved model says "synthetic test digits": other data, as far as it knows
    info = ModelStore().info(saved_model)
    rows = count_predicted_rows(info, monkeypatch)
    at = open_page("evaluate")
    assert at.metric[0].value == "not measured" and sum(rows) == len(data.x_test)
    button = at.button(key="evaluate_measure_train_button")
    assert button.label == f"Measure on the {len(data.x_train)} training digits"
    button.click().run()
    assert not at.exception
    assert sum(rows) == len(data.x_test) + len(data.x_train)
    assert at.metric[0].value == f"{evaluate_accuracy(tiny_result.model, data.x_train, data.y_train):.4f}"
    assert "Measured here on the 300 training digits" in at.metric[0].proto.help
    at.run()  # measured once: the figure stays, nothing is predicted again
    assert sum(rows) == len(data.x_test) + len(data.x_train) and at.metric[0].value != "not measured"


def test_a_saliency_map_explains_a_mistake_for_the_class_chosen(mislabelled_npz, saved_model):
    at = open_page("evaluate", evaluate_tab="Why this answer?")
    labels = load_file(mislabelled_npz).y_test
    digit = at.selectbox(key="evaluate_why_digit")
    assert all(f"#{index}: a {labels[index]}, read as" in " ".join(digit.options) for index in range(WRONG_LABELS))
    index = digit.value
    choice = at.radio(key=f"evaluate_why_class_{index}")
    said = choice.value
    assert said != labels[index]
    assert "the model's answer" in choice.format_func(said) and "the true digit" in choice.format_func(labels[index])
    assert f"What makes this a {said}?" in html(at) and f"towards {said}" in html(at)
    choice.set_value(int(labels[index])).run()
    assert not at.exception
    assert f"What makes this a {labels[index]}?" in html(at)


def test_a_model_without_mistakes_has_nothing_to_explain(tiny_npz, saved_model, tiny_result):
    assert tiny_result.test_accuracy == 1.0  # the tiny digits' bars are easy to read
    at = open_page("evaluate", evaluate_tab="Why this answer?")
    assert "there is no mistake to explain" in " ".join(texts(at.success))


def embedding_spec(at) -> str:
    return next(chart.proto.spec for chart in at.get("plotly_chart") if "true digit" in chart.proto.spec)


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_the_embedding_map_shows_the_test_digits(tiny_npz, saved_model, method):
    at = open_page("evaluate", evaluate_tab="Embedding map", evaluate_map_method=method)
    assert at.radio(key="evaluate_map_method").value == method
    spec = embedding_spec(at)
    assert "test digit #%{customdata}" in spec and "your drawing" not in spec
    assert "100 test digits" in " ".join(texts(at.caption))  # the tiny set has fewer than 2,000


def test_a_drawing_from_the_draw_page_is_a_star_on_the_map(tiny_npz, saved_model):
    drawing = np.zeros((28, 28), np.float32)
    drawing[8:10, 4:24] = 1.0  # a bar where the tiny digits' 2s have theirs
    at = open_page("evaluate", evaluate_tab="Embedding map", draw_digit=drawing)
    assert "your drawing" in embedding_spec(at)
    assert "The star is your drawing" in " ".join(texts(at.caption))


def test_a_selected_point_names_its_test_digit():
    point = {"curve_number": 3, "point_number": 7, "point_index": 7, "x": 0.5, "y": -1.0}
    assert selected_digit({"points": [{**point, "customdata": 42}], "point_indices": [7]}) == 42
    assert selected_digit({"points": [{**point, "customdata": [17]}]}) == 17  # customdata as a list
    assert selected_digit({"points": [point]}) is None  # the drawing's star carries no customdata
    assert selected_digit({"points": [], "point_indices": [], "box": [], "lasso": []}) is None
    assert selected_digit(None) is None


def test_the_weights_of_an_mlp_on_evaluate_and_models(tiny_npz, saved_model):
    at = open_page("evaluate", evaluate_tab="First-layer weights")
    assert html(at).count('alt="weights of unit') == 64  # the lecture's 64 hidden units
    at = open_page("models")
    assert 'alt="weights of unit' not in html(at)  # closed: the Models page loads no model for it
    at.session_state["models_weights"] = True
    at.run()
    assert not at.exception
    assert html(at).count('alt="weights of unit') == 64


def test_a_cnn_renders_every_tab_and_says_weights_are_for_mlps(mislabelled_npz, tiny_cnn_result):
    ModelStore().save("tiny-cnn", tiny_cnn_result)
    at = open_page("evaluate")
    assert not at.error and re.fullmatch(r"[01]\.\d{4}", at.metric[1].value)
    for tab in ("Why this answer?", "Embedding map", "First-layer weights"):
        at.session_state["evaluate_tab"] = tab
        at.run()
        assert not at.exception and not at.error, tab
    assert "First-layer weights are shown for MLPs" in " ".join(texts(at.info))
    at = open_page("models")
    at.session_state["models_weights"] = True
    at.run()
    assert "First-layer weights are shown for MLPs" in " ".join(texts(at.info))
