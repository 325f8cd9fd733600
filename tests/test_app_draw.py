"""The Draw page in Streamlit's AppTest: a blank canvas asks for a digit, a drawing gets a guess,
and with no model saved the Lecture preset can be trained on the spot."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT
from core.store import ModelStore
from dashboard.drawing import BLANK_MESSAGE

APP = ROOT / "dashboard" / "app.py"


def draw_page() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    return at.switch_page("views/draw.py").run()


def test_a_blank_canvas_asks_for_a_digit_instead_of_guessing(tiny_npz, saved_model):
    at = draw_page()
    assert not at.exception
    assert [info.value for info in at.info] == [BLANK_MESSAGE]
    assert not [metric for metric in at.metric if metric.label == "Prediction"]
    assert at.selectbox(key="draw_model").value == saved_model
    assert at.slider(key="draw_pen").value == 18


def test_clear_gives_a_fresh_canvas(tiny_npz, saved_model):
    at = draw_page()
    next(button for button in at.button if button.label == "Clear").click().run()
    assert not at.exception
    assert at.session_state["draw_round"] == 1
    assert [info.value for info in at.info] == [BLANK_MESSAGE]


def show_prediction_of_a_drawn_bar(blank: bool):
    """An app of one call: dashboard.drawing.show_prediction on a 280x280 RGBA canvas image."""
    import numpy as np

    from dashboard import caches, drawing, session

    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[..., 3] = 255  # the canvas' black background is opaque
    if not blank:
        canvas[100:120, 40:240, :3] = 255  # a thick white bar, like the tiny set's digits
    model = caches.load_model(session.active_model())
    drawing.show_prediction(model, canvas)


@pytest.mark.parametrize("blank", [False, True])
def test_a_drawing_gets_a_guess_its_probabilities_and_the_28x28_input(tiny_npz, saved_model, blank):
    at = AppTest.from_function(show_prediction_of_a_drawn_bar, kwargs={"blank": blank}, default_timeout=60).run()
    assert not at.exception
    if blank:
        assert [info.value for info in at.info] == [BLANK_MESSAGE] and not at.metric
        return
    prediction = at.metric[0]
    assert prediction.label == "Prediction" and prediction.value in [str(digit) for digit in range(10)]
    assert prediction.delta.endswith("% confident")
    assert len(at.get("plotly_chart")) == 1 and len(at.image) == 1


def test_with_no_model_the_lecture_preset_trains_right_there(tiny_npz):
    at = draw_page()
    assert not at.exception
    assert "No model is saved yet" in at.info[0].value
    next(button for button in at.button if button.label == "Train the Lecture preset").click().run()
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
