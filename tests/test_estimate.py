"""core.training.estimate: a run's expected time from a short calibration. How close it comes to a real run is a timing
figure, so bench/train_speed.py (lecture) and bench/cnn_speed.py (cnn, quick-cnn) measure it, not a unit test."""

from __future__ import annotations

import os
import threading

import pytest

from core.model.config import preset
from core.training.estimate import calibrate, estimate_seconds, format_estimate, speed_key
from core.training.loop import step_counts


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
    with calibrator._lock:  # as while another shape is being timed: a kept one still answers
        answers = []
        asking = threading.Thread(target=lambda: answers.append(calibrator.calibrate(config.replace(epochs=2))))
        asking.start()
        asking.join(60)  # a safety net: without the kept answer this waits for the lock
    assert answers == [first]
    child.kill()
    child.wait(30)
    again = calibrator.calibrate(config.replace(batch_size=64))  # a new shape: a new child answers
    assert calibrator.pid() != child.pid and again.step_seconds > 0


def test_calibrate_later_answers_at_once_and_times_the_shape_on_its_own_thread():
    from core.training.estimate import ChildCalibrator

    calibrator = ChildCalibrator()
    config = preset("lecture").replace(batch_size=48)
    assert calibrator.calibrate_later(config) is None  # not timed yet: started, no wait
    timed = calibrator.calibrate(config)  # waits for that timing (one question at a time), then keeps it
    assert calibrator.calibrate_later(config.replace(epochs=2)) is timed  # the same shape: the kept answer
    with pytest.raises(ValueError):
        calibrator.calibrate_later(config.replace(batch_size=0))
