"""Accuracy, measured one way everywhere: the fraction of digits whose highest score is their label.

``accuracy`` scores rows of logits or probabilities; ``evaluate_accuracy`` runs a model first.
The training accuracy is measured on a fixed sample of the training digits (``train_accuracy_sample``),
and the leaderboard's second figure on MNIST test digits redrawn as a person draws them (``drawn_accuracy``).
"""

from __future__ import annotations

import numpy as np

from core.data.mnist import MnistData
from core.drawing.synthetic import LEADERBOARD_DIGITS, LEADERBOARD_SEED, drawn_set
from core.model.predict import predict_logits


def accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of the (N, 10) score rows (logits or probabilities) whose highest score is at the (N,) label:
    the one place accuracy is computed outside a compiled training step."""
    return float(np.mean(np.argmax(scores, axis=1) == np.asarray(labels)))


# The training accuracy is measured on this many training digits, spread evenly over the set,
# not on all 60,000: for a CNN those cost 4-40 s of prediction (core/evaluation/evaluate.py), more than a
# quick run's whole training, while 10,000 digits (as many as the test set) pin it to about 0.1 point.
TRAIN_ACCURACY_DIGITS = 10_000


def evaluate_accuracy(model, images: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of (N, 28, 28) uint8 digits whose highest logit is the label."""
    return accuracy(predict_logits(model, images), labels)


def train_accuracy_sample(train_digits: int) -> np.ndarray:
    """Indices of the training digits the training accuracy is measured on: TRAIN_ACCURACY_DIGITS
    of them, evenly spaced, so a file sorted by label still gives every digit its share."""
    return np.linspace(0, train_digits - 1, min(train_digits, TRAIN_ACCURACY_DIGITS)).astype(np.int64)


def train_accuracy(model, data: MnistData) -> float:
    """Accuracy on the training digits of ``data``, measured as training measures it: on the evenly spread
    ``train_accuracy_sample`` of them (all of them when there are few)."""
    sample = train_accuracy_sample(len(data.x_train))
    return evaluate_accuracy(model, data.x_train[sample], data.y_train[sample])


def drawn_accuracy(model, data: MnistData, count: int = LEADERBOARD_DIGITS,
                   seed: int = LEADERBOARD_SEED) -> float | None:
    """Fraction of ``drawn_set(data, count, seed)`` that ``model`` reads right (evaluate_accuracy);
    None when no test digit of ``data`` has any ink to draw."""
    digits, labels = drawn_set(data, count, seed)
    if not len(labels):
        return None
    return evaluate_accuracy(model, digits, labels)
