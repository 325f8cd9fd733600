"""core.model.predict: probabilities from a model, batch or one drawn digit, never through model.predict."""

from __future__ import annotations

import numpy as np
import pytest

from core.drawing.strokes import canvas_json_strokes, rasterize_strokes
from core.model.config import preset
from core.model.network import build_model
from core.model.predict import (
    ModelIO,
    declare_io,
    model_io,
    predict_canvas_json,
    predict_drawing,
    predict_logits,
    predict_proba,
    softmax,
)
from helpers.canvas import recorded
from helpers.digits import make_digits, seven_canvas


@pytest.fixture(scope="module")
def model():
    """An untrained lecture network: the shapes and the arithmetic are what is tested here."""
    return build_model(preset("lecture"))


@pytest.fixture
def predict_spy(monkeypatch):
    """Counts calls of keras.Model.predict on any model, then lets them through."""
    import keras

    calls = []
    real_predict = keras.Model.predict

    def spy(self, *args, **kwargs):
        calls.append(args)
        return real_predict(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "predict", spy)
    return calls


def test_shapes_and_rows_summing_to_one(model):
    images, _ = make_digits(7)
    probabilities = predict_proba(model, images.astype(np.float32) / 255.0)
    assert probabilities.shape == (7, 10) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert probabilities.min() >= 0


def test_uint8_pixels_are_scaled_like_floats(model):
    images, _ = make_digits(5)
    from_uint8 = predict_proba(model, images)
    from_float = predict_proba(model, images.astype(np.float64) / 255.0)
    np.testing.assert_allclose(from_uint8, from_float, rtol=1e-5, atol=1e-6)
    # ...and the scaling matters: unscaled pixels would give other answers.
    assert not np.allclose(from_uint8, predict_proba(model, images.astype(np.float32)), atol=1e-3)


def test_probabilities_are_the_softmax_of_the_model_output(model):
    images, _ = make_digits(3)
    logits = np.asarray(model(images.astype(np.float32) / 255.0, training=False))
    np.testing.assert_allclose(predict_logits(model, images), logits, rtol=1e-5, atol=1e-6)
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(predict_proba(model, images), expected, rtol=1e-5, atol=1e-7)


def test_one_digit_without_a_batch_axis(model):
    images, _ = make_digits(1)
    np.testing.assert_allclose(predict_proba(model, images[0]), predict_proba(model, images), rtol=1e-6)


def test_more_digits_than_one_batch(model):
    images, _ = make_digits(1500)
    whole = predict_proba(model, images)
    assert whole.shape == (1500, 10)
    np.testing.assert_allclose(whole[1200:1210], predict_proba(model, images[1200:1210]), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("shape", [(4, 784), (4, 28, 28, 1), (4, 32, 32), (28,)])
def test_bad_shape_is_a_value_error(model, shape):
    with pytest.raises(ValueError, match="28, 28"):
        predict_proba(model, np.zeros(shape, np.float32))


def test_softmax_is_stable_for_huge_logits():
    probabilities = softmax(np.array([[1000.0, 0.0, -1000.0] + [0.0] * 7, [3.0] * 10]))
    assert np.all(np.isfinite(probabilities))
    assert probabilities[0, 0] == pytest.approx(1.0)
    np.testing.assert_allclose(probabilities[1], 0.1, rtol=1e-6)


def test_predict_drawing_on_a_canvas(model):
    digit, probabilities = predict_drawing(model, seven_canvas())
    assert digit.shape == (28, 28) and digit.max() == pytest.approx(1.0)
    assert probabilities.shape == (10,)
    assert probabilities.sum() == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(probabilities, predict_proba(model, digit[None])[0], rtol=1e-6)


def test_a_blank_canvas_gives_nothing(model):
    blank = np.zeros((280, 280, 4), np.uint8)
    blank[..., 3] = 255
    assert predict_drawing(model, blank) == (None, None)


def test_the_canvas_json_is_read_in_one_call_the_way_its_strokes_are_drawn(model):
    drawing, _ = recorded("drawn")
    digit, probabilities = predict_canvas_json(model, drawing)
    same_digit, same_probabilities = predict_drawing(model, rasterize_strokes(canvas_json_strokes(drawing)))
    np.testing.assert_array_equal(digit, same_digit)
    np.testing.assert_allclose(probabilities, same_probabilities, rtol=1e-6)
    assert predict_canvas_json(model, {"objects": []}) == (None, None)


def test_model_predict_is_never_called(model, predict_spy):
    model.predict(np.zeros((1, 28, 28), np.float32), verbose=0)
    assert len(predict_spy) == 1  # the spy sees calls: the zero below means something
    predict_spy.clear()
    images, _ = make_digits(3)
    predict_proba(model, images)
    predict_logits(model, images)
    predict_drawing(model, seven_canvas())
    predict_canvas_json(model, recorded("drawn")[0])
    assert predict_spy == []


def test_a_model_taking_784_values_and_giving_probabilities_is_fed_and_read_as_it_expects():
    """A hand-built model passed straight in (not through an import): its input shape and final softmax are read
    from its layers; the probabilities come back as they are, not squashed by a second softmax."""
    import keras

    model = keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(10, activation="softmax")])
    images, _ = make_digits(4)
    expected = np.asarray(model.predict_on_batch(images.reshape(-1, 784) / 255.0))
    np.testing.assert_allclose(predict_proba(model, images), expected, rtol=1e-4, atol=1e-7)
    assert model_io(model) == ModelIO((784,), "0-1", "probabilities")


def test_a_model_taking_28x28x1_behind_a_rescaling_layer_gets_0_255_pixels():
    import keras

    model = keras.Sequential([keras.Input(shape=(28, 28, 1)), keras.layers.Rescaling(1 / 255),
                              keras.layers.Flatten(), keras.layers.Dense(10)])
    images, _ = make_digits(4)
    logits = np.asarray(model.predict_on_batch(images[..., None].astype(np.float32)))
    np.testing.assert_allclose(predict_logits(model, images), logits, rtol=1e-4, atol=1e-5)
    declare_io(model, ModelIO((28, 28, 1), "0-1", "logits"))  # what an import found wins over the layers
    assert not np.allclose(predict_logits(model, images), logits, atol=1e-3)
