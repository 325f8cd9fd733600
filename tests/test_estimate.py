"""core.training.estimate: a run's expected time from a short calibration. How close it comes to a real run is a timing
figure, so bench/train_speed.py (lecture) and bench/cnn_speed.py (cnn, quick-cnn) measure it, not a unit test."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from core.model.config import PRESETS, preset
from core.training.estimate import calibrate, estimate_seconds, format_estimate, speed_key
from core.training.loop import step_counts
from helpers.apptest import DEADLINE_SECONDS


def test_one_calibration_per_network_shape():
    config = preset("lecture")
    assert calibrate(config) is calibrate(config.replace(epochs=9, learning_rate=0.1, seed=3, validation_split=0.1))
    assert calibrate(config.replace(batch_size=64)) is not calibrate(config)


def test_speed_key_holds_what_changes_speed_only():
    config = preset("cnn")
    assert speed_key(config) == speed_key(config.replace(epochs=1, learning_rate=0.5, lr_schedule="constant", seed=9))
    for changes in (dict(batch_size=256), dict(augment=False), dict(conv_filters=(8,)), dict(hidden_units=(32,))):
        assert speed_key(config.replace(**changes)) != speed_key(config), changes
    mlp = preset("lecture")
    assert speed_key(mlp) == speed_key(mlp.replace(conv_filters=(8,)))  # an MLP has no convolutions


def test_the_estimate_adds_up_what_train_does():
    config = preset("lecture")
    calibration = calibrate(config)
    steps_per_epoch, _ = step_counts(config, 6000)
    longer = estimate_seconds(config.replace(epochs=7), 6000, 1000) - estimate_seconds(config, 6000, 1000)
    assert longer == pytest.approx(2 * steps_per_epoch * calibration.step_seconds)
    more_tests = estimate_seconds(config, 6000, 3000) - estimate_seconds(config, 6000, 1000)
    assert more_tests == pytest.approx(2000 * calibration.predict_seconds_per_digit)
    assert min(calibration.step_seconds, calibration.predict_seconds_per_digit) > 0


def test_a_batch_larger_than_the_digits_is_a_value_error():
    with pytest.raises(ValueError, match="batch_size"):
        estimate_seconds(preset("cnn"), train_digits=100, test_digits=10)


@pytest.mark.parametrize(("seconds", "text"), [
    (0.2, "about 1 s here"),
    (3.4, "about 3 s here"),
    (42, "about 40 s here"),
    (88, "about 90 s here"),
    (239, "about 4 min here"),
    (5400, "about 1.5 h here"),
])
def test_format_estimate(seconds, text):
    assert format_estimate(seconds) == text


def test_the_servers_calibrations_run_in_a_niced_child_once_per_shape_and_survive_its_death():
    import psutil

    from core.training.child_process import CHILD_NICENESS
    from core.training.estimate import ChildCalibrator

    calibrator = ChildCalibrator()
    config = preset("lecture")
    first = calibrator.calibrate(config)
    child = psutil.Process(calibrator.pid())
    assert child.pid != os.getpid() and child.nice() == min(19, psutil.Process().nice() + CHILD_NICENESS)
    assert calibrator.calibrate(config.replace(epochs=9, seed=4)) is first  # same shape: kept, not asked again
    assert calibrator.known(config) and not calibrator.known(config.replace(batch_size=64))
    child.kill()
    child.wait(30)
    again = calibrator.calibrate(config.replace(batch_size=64))  # a new shape: a new child answers
    assert calibrator.pid() != child.pid and again.step_seconds > 0


def test_one_students_shape_never_holds_up_anothers_estimate_and_a_shape_over_the_time_limit_is_refused():
    """issue 22: a student's ?hidden=2048,2048&batch_size=4096 kept another's estimate waiting 12 s. Here the
    child is frozen (SIGSTOP) while it times one shape, as a shape slower than any machine would hold it."""
    from core.training.estimate import CalibrationRefused, ChildCalibrator

    calibrator = ChildCalibrator(seconds_per_shape=5)
    calibrator.calibrate(preset("lecture"))  # the child is up and warm
    slow = preset("lecture").replace(hidden_units=(128,))
    refusals = []

    def time_slow_shape():
        try:
            calibrator.calibrate(slow)
        except CalibrationRefused as error:
            refusals.append(str(error))

    timing = threading.Thread(target=time_slow_shape)
    timing.start()
    _wait_until(lambda: calibrator.timing == slow, "the slow shape to be timed")
    os.kill(calibrator.pid(), signal.SIGSTOP)

    other = preset("lecture").replace(batch_size=64)
    estimate = calibrator.estimate(other, 60_000, 10_000, wait=1.0)  # returns after a second at most: by design
    assert estimate.rough and estimate.seconds > 0 and "a first guess" in estimate.text()
    assert timing.is_alive()  # the slow shape was still being timed: the estimate did not wait for it

    timing.join(DEADLINE_SECONDS)
    assert refusals and "took more than 5 s to time a few of its steps" in refusals[0]
    assert "MNIST_CALIBRATION_SECONDS" in refusals[0]
    with pytest.raises(CalibrationRefused, match="took more than 5 s"):  # kept: never timed again
        calibrator.calibrate(slow, wait=0)
    timed = calibrator.estimate(other, 60_000, 10_000, wait=None)  # a fresh child times it
    assert not timed.rough and timed.seconds > 0


def test_a_network_too_large_for_the_memory_cap_is_refused_before_anything_is_built():
    """issue 22: a Train link with four blocks of 4096 filters and batches of 4096 took the timing process to
    2.5 GB and out of memory."""
    from core.training.estimate import CalibrationRefused, ChildCalibrator, training_memory_bytes

    huge = preset("cnn").replace(conv_filters=(4096,) * 4, hidden_units=(4096,), batch_size=4096)
    assert training_memory_bytes(huge) > 2048 * 2**20
    calibrator = ChildCalibrator(memory_mb=2048)
    with pytest.raises(CalibrationRefused, match=r"needs about [\d,]+ MB to train, more than the 2,048 MB"):
        calibrator.calibrate(huge)
    assert calibrator.pid() is None  # no process was started, nothing was built
    assert training_memory_bytes(preset("cnn")) < 100 * 2**20  # every preset fits easily


def test_the_networks_size_is_counted_without_building_it():
    from core.model.network import build_model, network_size

    for config in (*map(preset, PRESETS), preset("cnn").replace(conv_filters=(3, 5, 7, 9), hidden_units=(11, 13))):
        assert network_size(config).parameters == build_model(config).count_params()


def _wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited for {what} in vain")
        time.sleep(0.01)
