"""The Draw page in Streamlit's AppTest: a blank canvas asks for a digit, what the canvas sends (Fabric's JSON) gets
a guess and why, and with no model saved the Lecture preset can be trained on the spot. The canvas itself, its
toolbar and touch: tests/test_browser_draw.py."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.drawing.strokes import canvas_json
from core.model.config import preset
from core.model.store import ModelStore
from dashboard.prediction_panel import BLANK_MESSAGE, EXPLAIN_CLASS, GUESS_OPTION, NO_GUESS
from helpers.apptest import BAR, button, draw_on_canvas, draw_page, run_to_the_end


def test_a_blank_canvas_asks_for_a_digit_instead_of_guessing(tiny_npz, saved_model):
    at = draw_page()
    assert not at.exception
    assert [info.value for info in at.info] == [BLANK_MESSAGE]
    # The Prediction metric is there from the start, without a digit: its element code loads with the page.
    assert [(metric.label, metric.value) for metric in at.metric] == [("Prediction", NO_GUESS)]
    assert at.selectbox(key="draw_model").value == saved_model
    assert at.slider(key="draw_pen").value == 18


def show_prediction_of(drawing):
    """An app of one call: dashboard.prediction_panel.show_prediction on the canvas's Fabric JSON ``drawing``."""
    from dashboard import caches, prediction_panel, session

    model = caches.load_model(session.active_model())
    prediction_panel.show_prediction(model, drawing)


@pytest.mark.parametrize("drawing", [canvas_json(BAR), None], ids=["bar", "blank"])
def test_the_canvas_json_gets_a_guess_and_its_probabilities(tiny_npz, saved_model, drawing):
    at = AppTest.from_function(show_prediction_of, kwargs={"drawing": drawing}, default_timeout=60).run()
    assert not at.exception
    prediction = at.metric[0]
    if drawing is None:
        assert [info.value for info in at.info] == [BLANK_MESSAGE] and prediction.value == NO_GUESS and not at.html
        return
    assert prediction.label == "Prediction" and prediction.value in [str(digit) for digit in range(10)]
    assert prediction.delta.endswith("% confident")
    (bars,) = (block.proto.body for block in at.html)
    assert bars.count("%</span>") == 10  # one bar per digit, with its probability


@pytest.mark.parametrize("drawing", [
    {"objects": [{"type": "Rect", "left": 10, "top": 10, "width": 50, "height": 50}]},
    {"objects": [{"type": "Path", "strokeWidth": 1e7, "path": [["M", 10, 20], ["L", 30, 40]]}]},
    {"objects": [{"type": "Path", "path": [["M", 10, float("nan")]]}]},
], ids=["a rectangle", "a pen 1e7 wide", "not a number"])
def test_a_drawing_the_canvas_could_not_have_sent_gets_a_message_not_a_traceback(tiny_npz, saved_model, drawing):
    at = AppTest.from_function(show_prediction_of, kwargs={"drawing": drawing}, default_timeout=60).run()
    assert not at.exception and not at.metric
    assert "cannot be read" in at.error[0].value and "Clear the canvas" in at.error[0].value


def test_a_drawing_on_the_page_gets_a_guess_what_the_model_sees_and_why(tiny_npz, saved_model):
    at = draw_on_canvas(draw_page(), BAR)
    assert not at.exception and not at.error
    guess = next(metric for metric in at.metric if metric.label == "Prediction").value
    assert guess in [str(digit) for digit in range(10)] and not at.info
    blocks = [block.proto.body for block in at.html]
    assert sum("What the model sees" in block and block.count("data:image/png;base64,") == 1 for block in blocks) == 1
    assert [header.value for header in at.subheader] == ["Why"]
    choice = at.selectbox(key=EXPLAIN_CLASS)
    assert choice.value is None and choice.format_func(None) == GUESS_OPTION
    blocks = [block.proto.body for block in at.html]
    assert any(f"towards {guess}" in block for block in blocks), "no saliency map for the guess"
    assert any("the 64 hidden units" in block and block.count('title="unit ') == 64 for block in blocks)
    other = next(digit for digit in range(10) if str(digit) != guess)
    choice.set_value(other).run()
    assert not at.exception
    assert any(f"towards {other}" in block.proto.body for block in at.html), "the saliency map ignored the choice"
    assert next(metric for metric in at.metric if metric.label == "Prediction").value == guess


def test_the_explained_class_follows_each_new_guess(tiny_npz, saved_model):
    """issue 19: after 0, 9, 4 the box read "0 (the guess)", "0", "1"; its labels now never depend on the guess."""
    at = draw_page()
    for strokes in (BAR, [{"width": 20, "points": [140, 30, 140, 140, 140, 250]}], BAR):
        draw_on_canvas(at, strokes)
        assert not at.exception
        guess = next(metric for metric in at.metric if metric.label == "Prediction").value
        assert at.selectbox(key=EXPLAIN_CLASS).value is None
        assert any(f"score for {guess} (the guess)" in block.proto.body for block in at.html)


def explain_a_cnn():
    """An app of one call: dashboard.prediction_panel.show_explanations for an (untrained) CNN preset network."""
    import numpy as np

    from core.model.config import preset
    from core.model.network import build_model
    from core.model.predict import predict_proba
    from dashboard import prediction_panel

    digit = np.zeros((28, 28), np.float32)
    digit[6:22, 12:16] = 1.0  # a "1"
    model = build_model(preset("cnn"))  # untrained: what is tested is which pictures appear
    probabilities = predict_proba(model, digit)[0]
    prediction_panel.show_explanations(model, prediction_panel.Reading(digit, probabilities, int(probabilities.argmax())))


def test_a_cnn_is_explained_by_the_feature_maps_of_each_convolution_block():
    at = AppTest.from_function(explain_a_cnn, default_timeout=60).run()
    assert not at.exception
    blocks = [block.proto.body for block in at.html]
    assert "saliency" in blocks[0]
    config = preset("cnn")
    assert [block.count("<img") for block in blocks[1:] if "feature maps" in block] == list(config.conv_filters)
    assert blocks[-1].count('title="unit ') == config.hidden_units[-1]  # then its hidden dense layer


def test_a_canvas_cleared_in_the_browser_asks_for_a_digit_again(tiny_npz, saved_model):
    at = draw_on_canvas(draw_page(), BAR)
    assert [metric.value for metric in at.metric] != [NO_GUESS]
    draw_on_canvas(at, [])  # what the canvas sends after its toolbar's Reset, or Undo of the only stroke
    assert not at.exception
    assert [info.value for info in at.info] == [BLANK_MESSAGE] and not at.subheader
    assert [metric.value for metric in at.metric] == [NO_GUESS]


def test_with_no_model_the_lecture_preset_trains_right_there(tiny_npz):
    """The Draw page's run trains for real, in a worker process."""
    at = draw_page()
    assert not at.exception
    assert "No model is saved yet" in at.info[0].value
    button(at, "Train the Lecture preset").click().run()
    assert not at.exception and not at.error
    assert at.session_state["training_job"] is not None  # the server's scheduler trains it, as the Train page's runs
    run_to_the_end(at)
    assert not at.exception and not at.error
    assert [info.name for info in ModelStore().list().models] == ["lecture"]
    assert at.selectbox(key="draw_model").value == "lecture"
    assert [info.value for info in at.info] == [BLANK_MESSAGE]


def test_the_picker_changes_the_active_model_for_every_page(tiny_npz, saved_model, tiny_result):
    ModelStore().save("second", tiny_result)  # now the newest, so the default
    at = draw_page()
    assert at.selectbox(key="draw_model").value == "second"
    at.selectbox(key="draw_model").set_value(saved_model).run()
    assert at.session_state["active_model"] == saved_model
    at.switch_page("views/evaluate.py").run()
    assert at.selectbox(key="evaluate_model").value == saved_model
    assert np.isclose(float(at.metric[1].value), tiny_result.test_accuracy, atol=1e-4)
