"""dashboard.loss_curve: the live loss chart's data stays small and matches the full computation."""

import numpy as np
import pytest

from dashboard.loss_curve import LossCurve, bucket_size, envelope, smoothing_for


def reference_average(losses, weight):
    """The bias-corrected moving average, one step at a time, the slow obvious way."""
    averages, average = [], 0.0
    for step, loss in enumerate(losses, start=1):
        average = weight * average + (1 - weight) * loss
        averages.append(average / (1 - weight**step))
    return np.array(averages)


def test_growing_a_curve_in_chunks_matches_computing_it_at_once():
    losses = np.random.default_rng(0).random(5000) * 3
    curve = LossCurve(0.9)
    for end in (1, 7, 2500, 2501, 5000):  # like Progress snapshots: the whole history each time
        curve.update(tuple(losses[:end]))
    np.testing.assert_allclose(curve.raw, losses)
    np.testing.assert_allclose(curve.smoothed, reference_average(losses, 0.9))
    assert len(curve) == 5000


def test_the_average_starts_at_the_first_loss_not_at_zero():
    curve = LossCurve().update([2.5, 2.5, 2.5])
    np.testing.assert_allclose(curve.smoothed, [2.5, 2.5, 2.5])


def test_an_update_with_nothing_new_changes_nothing():
    curve = LossCurve().update([1.0, 2.0])
    before = curve.smoothed.copy()
    curve.update([1.0, 2.0])
    np.testing.assert_array_equal(curve.smoothed, before)


def test_chart_points_stay_bounded_however_long_the_run():
    curve = LossCurve().update(np.random.default_rng(1).random(100_000))
    raw_steps, raw = curve.raw_points(2000)
    smooth_steps, smoothed = curve.smoothed_points(2000)
    assert len(raw) <= 2000 and len(smoothed) <= 2000
    assert smooth_steps[-1] == 100_000  # the line reaches the latest step
    assert np.all(np.diff(raw_steps) >= 0) and np.all(np.diff(smooth_steps) > 0)


def test_the_envelope_keeps_every_spike():
    values = np.ones(10_000)
    values[1234], values[8765] = 50.0, -3.0
    steps, kept = envelope(values, 500)
    assert len(kept) <= 500
    assert 50.0 in kept and -3.0 in kept
    assert steps[list(kept).index(50.0)] == 1235  # steps count from 1


def test_few_points_are_returned_as_they_are():
    steps, kept = envelope([3.0, 1.0, 2.0], 2000)
    np.testing.assert_array_equal(steps, [1, 2, 3])
    np.testing.assert_array_equal(kept, [3.0, 1.0, 2.0])


def test_bucket_edges_do_not_move_while_a_run_grows():
    assert bucket_size(2000, 2000) == 1
    assert bucket_size(2001, 2000) == 2
    assert bucket_size(100_000, 1000) == 128
    for count in (3000, 9000, 33_000):
        size = bucket_size(count, 1000)
        assert size & (size - 1) == 0 and -(-count // size) <= 1000


def test_the_smoothing_window_follows_the_run_length():
    assert smoothing_for(50) == 0.0  # a tiny run: the raw losses
    assert smoothing_for(468) == pytest.approx(1 - 1 / 9)
    assert smoothing_for(9375) == pytest.approx(0.98)


@pytest.mark.parametrize("bad", [-0.1, 1.0])
def test_a_smoothing_outside_zero_to_one_is_refused(bad):
    with pytest.raises(ValueError, match="smoothing"):
        LossCurve(bad)
