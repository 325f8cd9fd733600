"""core.estimate: a run's expected time from a short calibration, checked against the same run's real time."""

from __future__ import annotations

import pytest

from conftest import make_tiny_data
from core.estimate import calibrate, estimate_seconds, format_estimate, speed_key
from core.models import TrainConfig, preset
from core.training import step_counts, train

# A real run is compared with its estimate within this factor either way: generous, because a
# run of a few seconds on tiny digits shares two cores with whatever else the machine does.
FACTOR = 4.0

TINY_CNN = TrainConfig(architecture="cnn", conv_filters=(4, 8), hidden_units=(16,), activation="relu",
                       optimizer="adam", learning_rate=3e-3, batch_size=32, epochs=2, augment=True)


@pytest.mark.parametrize("config", [
    preset("lecture").replace(epochs=3),
    TINY_CNN,
    preset("lecture").replace(validation_split=0.2, epochs=2),
], ids=["lecture", "tiny-cnn-augmented", "with-validation"])
def test_estimate_is_near_the_real_run(config):
    data = make_tiny_data(train=1200, test=200)
    estimate = estimate_seconds(config, len(data.x_train), len(data.x_test))
    result = train(config, data)
    assert result.wall_seconds / FACTOR <= estimate <= result.wall_seconds * FACTOR, (estimate, result.wall_seconds)


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
