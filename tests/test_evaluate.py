"""core.evaluate: confusion matrix and per-class figures on hand-made arrays, then on a trained model."""

from __future__ import annotations

import numpy as np
import pytest

from core.evaluate import Evaluation, confusion_matrix, evaluate, misclassified, precision_recall
from core.models import preset
from core.training import evaluate_accuracy, train

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
