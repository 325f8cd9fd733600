"""core.evaluation.evaluate: confusion matrix and per-class figures on hand-made arrays, then on a trained model."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from core.evaluation.evaluate import (
    Evaluation,
    confusion_matrix,
    evaluate,
    misclassified,
    place_among,
    precision_recall,
    saved_train_accuracy,
    trained_on,
)
from core.evaluation.metrics import evaluate_accuracy, train_accuracy
from core.model.config import TrainConfig, preset
from core.model.store import ModelInfo
from core.training.loop import train

# Ten hand-made answers over three classes:
#   true 0 -> predicted 0, 0, 1        (2 of 3 right)
#   true 1 -> predicted 1, 1, 1, 2     (3 of 4 right)
#   true 2 -> predicted 0, 2, 2        (2 of 3 right)
TRUE = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2])
PREDICTED = np.array([0, 0, 1, 1, 1, 1, 2, 0, 2, 2])


def test_confusion_matrix_rows_are_true_columns_are_predicted():
    matrix = confusion_matrix(TRUE, PREDICTED, classes=3)
    np.testing.assert_array_equal(matrix, [[2, 1, 0], [0, 3, 1], [1, 0, 2]])
    assert matrix.sum() == len(TRUE)


def test_confusion_matrix_has_all_ten_digits_by_default():
    matrix = confusion_matrix(np.array([9, 9]), np.array([9, 3]))
    assert matrix.shape == (10, 10)
    assert matrix[9, 9] == 1 and matrix[9, 3] == 1 and matrix.sum() == 2


def test_precision_and_recall():
    precision, recall = precision_recall(confusion_matrix(TRUE, PREDICTED, classes=3))
    np.testing.assert_allclose(precision, [2 / 3, 3 / 4, 2 / 3])  # right / predicted as that class
    np.testing.assert_allclose(recall, [2 / 3, 3 / 4, 2 / 3])  # right / truly that class
    precision, recall = precision_recall(confusion_matrix([0, 0, 1], [0, 1, 1], classes=3))
    np.testing.assert_allclose(precision, [1.0, 0.5, 0.0])  # class 2 never predicted: 0, not NaN
    np.testing.assert_allclose(recall, [0.5, 1.0, 0.0])  # class 2 never present: 0, not NaN


def test_misclassified_lists_the_most_confident_mistakes_first():
    probabilities = np.full((5, 10), 0.01)
    answers = [(3, 0.9), (1, 0.5), (2, 0.99), (3, 0.6), (7, 0.7)]  # (predicted digit, its probability)
    for row, (digit, probability) in enumerate(answers):
        probabilities[row, digit] = probability
    true = np.array([3, 4, 5, 3, 8])  # rows 1, 2 and 4 are wrong
    evaluation = Evaluation(0.0, 0.0, probabilities, np.zeros((10, 10)), np.zeros(10), np.zeros(10))
    np.testing.assert_array_equal(evaluation.predictions, [3, 1, 2, 3, 7])
    np.testing.assert_array_equal(misclassified(evaluation, true), [2, 4, 1])
    np.testing.assert_array_equal(misclassified(evaluation, true, limit=2), [2, 4])
    np.testing.assert_array_equal(misclassified(evaluation, true, limit=None), [2, 4, 1])


def test_evaluate_a_trained_model(tiny_data):
    result = train(preset("lecture").replace(epochs=1), tiny_data)
    report = evaluate(result.model, tiny_data)
    assert report.test_probabilities.shape == (len(tiny_data.x_test), 10)
    assert report.confusion.sum() == len(tiny_data.x_test)
    np.testing.assert_array_equal(report.confusion.sum(axis=1), np.bincount(tiny_data.y_test, minlength=10))
    assert report.test_accuracy == pytest.approx(result.test_accuracy)
    assert report.train_accuracy == pytest.approx(evaluate_accuracy(result.model, tiny_data.x_train, tiny_data.y_train))
    # Recall is each digit's own accuracy; weighted by how many there are, it is the accuracy.
    weights = np.bincount(tiny_data.y_test, minlength=10) / len(tiny_data.y_test)
    assert float(np.sum(report.recall * weights)) == pytest.approx(report.test_accuracy)


def test_evaluate_can_leave_the_training_digits_out(tiny_data, tiny_result):
    report = evaluate(tiny_result.model, tiny_data, measure_train=False)
    assert report.train_accuracy is None
    assert report.test_accuracy == pytest.approx(tiny_result.test_accuracy)


def test_the_training_digits_are_measured_as_training_measures_them(tiny_data, tiny_result, monkeypatch):
    from core.evaluation import metrics

    monkeypatch.setattr(metrics, "TRAIN_ACCURACY_DIGITS", 40)
    sample = metrics.train_accuracy_sample(len(tiny_data.x_train))
    outside = np.setdiff1d(np.arange(len(tiny_data.x_train)), sample)[:100]
    labels = tiny_data.y_train.copy()
    labels[outside] = (labels[outside] + 1) % 10  # wrong labels only where the sample does not look
    data = dataclasses.replace(tiny_data, y_train=labels)
    assert train_accuracy(tiny_result.model, data) == evaluate_accuracy(tiny_result.model, data.x_train[sample],
                                                                        labels[sample])
    assert train_accuracy(tiny_result.model, data) > evaluate_accuracy(tiny_result.model, data.x_train, labels)


def saved_info(data_description: str, train_accuracy: float, test_accuracy: float) -> ModelInfo:
    return ModelInfo(name="m", path=Path("m.keras"), config=TrainConfig(), train_accuracy=train_accuracy,
                     test_accuracy=test_accuracy, training_seconds=1.0, created="2026-01-01T00:00:00+00:00",
                     data_description=data_description)


def measured(right: int, of: int) -> Evaluation:
    """An Evaluation whose test accuracy is right/of."""
    probabilities = np.zeros((of, 10))
    probabilities[:, 0] = 1.0
    confusion = np.zeros((10, 10), np.int64)
    confusion[0, 0], confusion[1, 0] = right, of - right
    return Evaluation(None, right / of, probabilities, confusion, np.zeros(10), np.zeros(10))


def test_the_saved_train_accuracy_is_used_only_for_the_digits_the_model_was_trained_on(tiny_data):
    described = tiny_data.description
    assert trained_on(saved_info(described, 0.97, 0.95), tiny_data)
    assert saved_train_accuracy(saved_info(described, 0.97, 0.95), tiny_data, measured(95, 100)) == 0.97
    # Other digits: another description, an old model without one, or the same description but other test digits.
    assert not trained_on(saved_info("a 5,000-digit sample", 0.97, 0.95), tiny_data)
    assert saved_train_accuracy(saved_info("a 5,000-digit sample", 0.97, 0.95), tiny_data, measured(95, 100)) is None
    assert saved_train_accuracy(saved_info("", 0.97, 0.95), tiny_data, measured(95, 100)) is None
    assert saved_train_accuracy(saved_info(described, 0.97, 0.95), tiny_data, measured(94, 100)) is None


def test_a_new_digit_goes_among_its_nearest_neighbours_on_the_map():
    features = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])  # (4, D=2) hidden features
    points = np.array([[-10.0, 0.0], [-12.0, 0.0], [10.0, 1.0], [12.0, 3.0]])  # (4, 2) map positions
    np.testing.assert_allclose(place_among(features, points, np.array([5.0, 4.9]), neighbours=2), [11.0, 2.0])
    np.testing.assert_allclose(place_among(features, points, np.array([0.0, 0.1]), neighbours=1), [-10.0, 0.0])
    with pytest.raises(ValueError, match="new_features"):
        place_among(features, points, np.zeros(3))
