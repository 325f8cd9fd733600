"""core.training.augment: random, seeded changes of position, size, slant and pen that keep the digit a digit."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from core.training import augment  # noqa: E402
from core.training.augment import make_augmenter  # noqa: E402
from helpers.digits import centre_of_mass, ring_digit  # noqa: E402

RADIUS = 6.0  # of the ring the tests change


def ring_digits(count: int) -> np.ndarray:
    """(count, 28, 28) float32 'zeros': helpers.digits.ring_digit, of radius RADIUS."""
    return np.repeat(ring_digit(RADIUS)[None], count, axis=0)


def test_shape_dtype_and_range_are_kept():
    out = make_augmenter(0)(tf.constant(ring_digits(16))).numpy()
    assert out.shape == (16, 28, 28) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_every_digit_gets_its_own_change():
    out = make_augmenter(0)(tf.constant(ring_digits(8))).numpy()
    assert all(not np.allclose(out[0], other, atol=1e-3) for other in out[1:])


def test_same_seed_same_batches_other_seed_other_batches():
    images = tf.constant(ring_digits(8))
    first, second, other = make_augmenter(3), make_augmenter(3), make_augmenter(4)
    a1, a2 = first(images).numpy(), first(images).numpy()
    np.testing.assert_array_equal(a1, second(images).numpy())
    np.testing.assert_array_equal(a2, second(images).numpy())
    assert not np.allclose(a1, other(images).numpy())
    assert not np.allclose(a1, a2)


def test_the_digit_stays_near_the_centre_and_inside_the_frame():
    out = make_augmenter(1)(tf.constant(ring_digits(256))).numpy()
    offsets = centre_of_mass(out) - 13.5
    # A shift of at most MAX_SHIFT_PIXELS per axis, plus interpolation.
    assert np.abs(offsets).max() <= augment.MAX_SHIFT_PIXELS + 0.5
    assert np.abs(offsets).max() >= 1.0  # shifting does happen
    assert out[:, [0, -1], :].max() < 0.05 and out[:, :, [0, -1]].max() < 0.05


def test_size_changes_stay_within_the_scale_range():
    rings = ring_digits(256)
    out = make_augmenter(2)(tf.constant(rings)).numpy()
    rows, cols = np.indices((28, 28))
    centres = centre_of_mass(out)
    # Mean distance of the ink from its centre: RADIUS for the ring, times the scale.
    radius = np.array([
        (image * np.hypot(rows - r, cols - c)).sum() / image.sum() for image, (r, c) in zip(out, centres)
    ])
    low, high = augment.SCALE_RANGE
    spread = 1 + augment.MAX_ASPECT_CHANGE + augment.MAX_SHEAR
    assert radius.min() > RADIUS * low / spread and radius.max() < RADIUS * high * spread
    assert radius.max() - radius.min() > 1.0


def test_the_pen_gets_bolder_and_thinner():
    images = tf.constant(ring_digits(3)[..., None])
    pen = tf.constant([-1.0, 0.0, 1.0])[:, None, None, None]
    ink = augment._random_pen(images, pen).numpy().sum(axis=(1, 2, 3))
    assert ink[0] < 0.75 * ink[1] and ink[2] > 1.5 * ink[1]
    assert ink[1] == pytest.approx(ring_digits(1).sum())


def test_runs_inside_a_compiled_function_for_any_batch_size():
    compiled = tf.function(make_augmenter(0), input_signature=[tf.TensorSpec([None, 28, 28], tf.float32)])
    for count in (1, 5):
        assert compiled(tf.constant(ring_digits(count))).shape == (count, 28, 28)
