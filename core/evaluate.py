"""Where a model goes right and wrong: accuracies, confusion matrix, per-class figures."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data import MnistData
from core.predict import predict_proba


@dataclass
class Evaluation:
    """A model measured on a data set.

    test_probabilities : (N_test, 10) predicted probabilities.
    confusion : (10, 10) counts; row = true digit, column = predicted digit.
    precision, recall : (10,) per digit; recall is also that digit's accuracy.
    """

    train_accuracy: float
    test_accuracy: float
    test_probabilities: np.ndarray
    confusion: np.ndarray
    precision: np.ndarray
    recall: np.ndarray

    @property
    def predictions(self) -> np.ndarray:
        return self.test_probabilities.argmax(axis=1)


def evaluate(model, data: MnistData) -> Evaluation:
    """Measure ``model`` on the train and test digits of ``data``."""
    train_accuracy = float(np.mean(predict_proba(model, data.x_train).argmax(axis=1) == data.y_train))
    probabilities = predict_proba(model, data.x_test)
    confusion = confusion_matrix(data.y_test, probabilities.argmax(axis=1))
    precision, recall = precision_recall(confusion)
    return Evaluation(
        train_accuracy=train_accuracy,
        test_accuracy=float(np.trace(confusion) / confusion.sum()),
        test_probabilities=probabilities, confusion=confusion, precision=precision, recall=recall,
    )


def confusion_matrix(true_labels: np.ndarray, predicted: np.ndarray, classes: int = 10) -> np.ndarray:
    """(N,) true and (N,) predicted digits -> (classes, classes) counts, rows = true."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(true_labels, int), np.asarray(predicted, int)), 1)
    return matrix


def precision_recall(confusion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-class precision (right among predicted) and recall (right among true); 0 where undefined."""
    right = np.diag(confusion).astype(float)
    predicted = confusion.sum(axis=0)
    true = confusion.sum(axis=1)
    precision = np.divide(right, predicted, out=np.zeros_like(right), where=predicted > 0)
    recall = np.divide(right, true, out=np.zeros_like(right), where=true > 0)
    return precision, recall


def misclassified(evaluation: Evaluation, true_labels: np.ndarray, limit: int = 50) -> np.ndarray:
    """Indices of wrongly predicted test digits, most confidently wrong first."""
    predictions = evaluation.predictions
    wrong = np.flatnonzero(predictions != true_labels)
    confidence = evaluation.test_probabilities[wrong, predictions[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")][:limit]
