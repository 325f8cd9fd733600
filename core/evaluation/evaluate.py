"""Where a model goes right and wrong: accuracies, confusion matrix, per-class figures."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data.mnist import MnistData
from core.evaluation.metrics import accuracy, train_accuracy
from core.model.predict import predict_proba
from core.model.store import ModelInfo


@dataclass
class Evaluation:
    """A model measured on a data set.

    train_accuracy : None when the training digits were not measured (``evaluate(..., measure_train=False)``).
    test_probabilities : (N_test, 10) predicted probabilities.
    confusion : (10, 10) counts; row = true digit, column = predicted digit.
    precision, recall : (10,) per digit; recall is also that digit's accuracy.
    """

    train_accuracy: float | None
    test_accuracy: float
    test_probabilities: np.ndarray
    confusion: np.ndarray
    precision: np.ndarray
    recall: np.ndarray

    @property
    def predictions(self) -> np.ndarray:
        return self.test_probabilities.argmax(axis=1)


def evaluate(model, data: MnistData, measure_train: bool = True) -> Evaluation:
    """Measure ``model`` on the test digits of ``data``, and on its training digits unless told not to.

    Each measurement costs about as much as the other on full MNIST (10,000 test digits, and
    ``train_accuracy``'s 10,000 training digits): the CNN preset took 2.4-3.1 s of CPU for 10,000
    digits (and 15 s for all 60,000; Intel Xeon, 2 cores). The dashboard skips the training digits
    (measure_train=False) and shows the figure saved with the model (``saved_train_accuracy``),
    or measures them when asked.
    """
    probabilities = predict_proba(model, data.x_test)  # (N_test, 10)
    confusion = confusion_matrix(data.y_test, probabilities.argmax(axis=1))
    precision, recall = precision_recall(confusion)
    return Evaluation(
        train_accuracy=train_accuracy(model, data) if measure_train else None,
        test_accuracy=accuracy(probabilities, data.y_test),
        test_probabilities=probabilities, confusion=confusion, precision=precision, recall=recall,
    )


def trained_on(info: ModelInfo, data: MnistData) -> bool:
    """Whether ``data`` has the description saved with the model: the data it was trained on, by file name
    and digit counts (a first check: ``saved_train_accuracy`` also compares the test accuracy)."""
    return bool(info.data_description) and info.data_description == data.description


def saved_train_accuracy(info: ModelInfo, data: MnistData, evaluation: Evaluation) -> float | None:
    """The training accuracy saved with a model, if ``data`` is the data it was trained on; else None.

    Two checks, as the saved description names only a file and its digit counts: ``trained_on``,
    and the test accuracy ``evaluation`` measured on ``data`` is the saved one to the digit
    (another file of the same name and size almost surely differs there).
    The saved figure leaves out the digits a validation split held back (see core.training.train).
    """
    if not trained_on(info, data):
        return None
    test_digits = len(evaluation.test_probabilities)
    if round(info.test_accuracy * test_digits) != round(evaluation.test_accuracy * test_digits):
        return None
    return info.train_accuracy


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


def misclassified(evaluation: Evaluation, true_labels: np.ndarray, limit: int | None = 50) -> np.ndarray:
    """Indices of wrongly predicted test digits, most confidently wrong first; all of them for limit=None."""
    predictions = evaluation.predictions
    wrong = np.flatnonzero(predictions != true_labels)
    confidence = evaluation.test_probabilities[wrong, predictions[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")][:limit]


def place_among(features: np.ndarray, points: np.ndarray, new_features: np.ndarray, neighbours: int = 5) -> np.ndarray:
    """Where a new digit goes on a 2-D map of other digits: the mean position of its nearest neighbours.

    t-SNE has no formula for a point it was not fitted on, so a new digit (a drawing) is put
    among the digits whose hidden features are closest to its own; the same rule serves PCA.

    features : (N, D) hidden features of the digits on the map.
    points : (N, 2) their positions on the map.
    new_features : (D,) the new digit's hidden features.
    Returns (2,) float32.
    """
    features, points = np.asarray(features, np.float32), np.asarray(points, np.float32)
    new_features = np.asarray(new_features, np.float32).reshape(-1)
    if features.ndim != 2 or len(features) != len(points) or features.shape[1] != new_features.shape[0]:
        raise ValueError(f"features must be (N, D) with one row per map point and new_features (D,); got "
                         f"{features.shape}, {points.shape} points and {new_features.shape}")
    distances = np.linalg.norm(features - new_features, axis=1)  # (N,)
    nearest = np.argsort(distances, kind="stable")[:neighbours]
    return points[nearest].mean(axis=0)  # (2,)
