"""The lecture's network up close: its weights, its loss, and its small experiments.

- The weights W1, b1, W2, b2 and their shapes, as the lecture declares them.
- The loss: the cross-entropy the lecture meant, and the one it wrote, which
  applies softmax twice and can never reach 0 (``lecture_loss_floor``).
- The weights' starting values, next to the lecture's ``tf.get_variable`` (Glorot uniform) and ``tf.zeros``.
- One SGD step on one batch: the batch loss before and after.
- An untrained network's probabilities for the first five digits: about 0.1
  each, a guess.
- 200 SGD steps on just those five digits: the network memorizes them
  (probabilities near 1 for the right digit), which is overfitting, not learning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from core.data.mnist import IMAGE_SIDE, NUM_CLASSES, MnistData
from core.model.config import TrainConfig, preset
from core.model.network import build_model
from core.model.predict import predict_logits, predict_proba, softmax
from core.training.loop import compile_training

FIVE = 5


def weight_shapes(config: TrainConfig) -> list[tuple[str, tuple[int, ...]]]:
    """The weights of a dense network, named as the lecture names them.

    For the lecture: [("W1", (784, 64)), ("b1", (64,)), ("W2", (64, 10)), ("b2", (10,))].
    """
    if config.architecture != "mlp":
        raise ValueError(f"architecture must be 'mlp' (dense layers) to list W and b, got {config.architecture!r}")
    sizes = [IMAGE_SIDE * IMAGE_SIDE, *config.hidden_units, NUM_CLASSES]
    shapes: list[tuple[str, tuple[int, ...]]] = []
    for layer, (inputs, outputs) in enumerate(zip(sizes, sizes[1:]), start=1):
        shapes += [(f"W{layer}", (inputs, outputs)), (f"b{layer}", (outputs,))]
    return shapes


@dataclass(frozen=True)
class StartingWeights:
    """One weight of a new network as its first values came out, beside what the lecture's code asked for:
    ``tf.get_variable`` draws a matrix uniformly in +-``limit`` (Glorot uniform, its default initializer) and
    ``tf.Variable(tf.zeros(...))`` starts a bias at 0."""

    name: str  # "W1", "b1", ... as the lecture names them
    values: np.ndarray  # (inputs, outputs) for a matrix, (outputs,) for a bias
    limit: float  # Glorot's bound sqrt(6 / (inputs + outputs)); 0 for a bias

    @property
    def counts(self) -> np.ndarray:
        """(10,) how many values fall in each tenth of [-limit, limit]: about equal when uniform."""
        return np.histogram(self.values, bins=10, range=(-self.limit, self.limit))[0]


def glorot_limit(inputs: int, outputs: int) -> float:
    """Glorot (Xavier) uniform's bound: sqrt(6 / (inputs + outputs)), 0.0841 for the lecture's W1 (784 x 64)."""
    return math.sqrt(6 / (inputs + outputs))


def starting_weights(model) -> list[StartingWeights]:
    """The weights of a dense network (a fresh one: ``fresh_network``) in the lecture's order W1, b1, W2, b2..."""
    import keras

    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if any(isinstance(layer, keras.layers.Conv2D) for layer in model.layers) or not dense:
        raise ValueError("starting_weights lists the weights of a dense network (an MLP), not a CNN's")
    weights = []
    for number, layer in enumerate(dense, start=1):
        kernel, bias = (np.asarray(variable) for variable in (layer.kernel, layer.bias))  # (in, out), (out,)
        weights += [StartingWeights(f"W{number}", kernel, glorot_limit(*kernel.shape)),
                    StartingWeights(f"b{number}", bias, 0.0)]
    return weights


def frameworks() -> str:
    """The TensorFlow and Keras this process runs, e.g. 'TensorFlow 2.20.0, Keras 3.11.3'."""
    import keras
    import tensorflow as tf

    return f"TensorFlow {tf.__version__}, Keras {keras.__version__}"


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(N, K) logits, (N,) labels -> (N,) losses ``-log softmax(logits)[label]``: the loss the lecture meant.

    Computed as log-sum-exp minus the right logit, so a confident answer does not round to log(0).
    """
    logits = np.asarray(logits, np.float64)
    labels = np.asarray(labels)
    if logits.ndim != 2 or labels.shape != (len(logits),):
        raise ValueError(f"logits must be (N, K) and labels (N,), got {logits.shape} and {labels.shape}")
    highest = logits.max(axis=1, keepdims=True)  # (N, 1)
    log_sum = highest[:, 0] + np.log(np.exp(logits - highest).sum(axis=1))  # (N,)
    return log_sum - logits[np.arange(len(logits)), labels]


def lecture_loss(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(N, K) logits, (N,) labels -> (N,) losses as the lecture writes them.

    The lecture's ``-sum(y * log(softmax(class_probs)))`` where ``class_probs = softmax(h2)``:
    the cross-entropy of ``class_probs`` taken as logits, softmax applied twice.
    """
    return cross_entropy(softmax(np.asarray(logits, np.float64)), labels)


def lecture_loss_floor(num_classes: int = NUM_CLASSES) -> float:
    """The lowest value the lecture's loss can take: about 1.4612 for ten digits.

    The best a network can do is give the right digit probability 1 and the others 0. The
    second softmax turns those class_probs into e / (e + K - 1) for the right digit, so the
    loss is ``log(1 + (K - 1) / e)``; here it is computed by feeding that perfect answer through.
    """
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    perfect = np.eye(num_classes)[:1]  # (1, K): probability 1 for digit 0
    return float(cross_entropy(perfect, np.array([0]))[0])


def confidence_sweep(confidences: Sequence[float], num_classes: int = NUM_CLASSES) -> tuple[np.ndarray, np.ndarray]:
    """(cross-entropy, lecture loss), each (len(confidences),), for a network that gives the right
    digit probability p and shares 1 - p equally among the others, for each p in ``confidences``."""
    confidences = np.asarray(confidences, np.float64)
    if confidences.ndim != 1 or np.any(confidences <= 0) or np.any(confidences > 1):
        raise ValueError(f"confidences must be probabilities in (0, 1], got {confidences.tolist()}")
    class_probs = np.repeat(((1 - confidences) / (num_classes - 1))[:, None], num_classes, axis=1)  # (P, K)
    class_probs[:, 0] = confidences  # digit 0 is the right one
    right = np.zeros(len(confidences), int)
    return -np.log(confidences), cross_entropy(class_probs, right)


def fresh_network(seed: int = 0):
    """A newly initialized lecture network (784 -> 64 tanh -> 10 logits): the lecture's
    ``tf.global_variables_initializer().run()``; another seed gives other random weights."""
    return build_model(preset("lecture").replace(seed=seed))


def untrained_probabilities(data: MnistData, seed: int = 0) -> np.ndarray:
    """(5, 10) probabilities of a freshly initialized lecture network for the first five train digits."""
    return predict_proba(fresh_network(seed), data.x_train[:FIVE])


def memorize_five(data: MnistData, steps: int = 200, seed: int = 0) -> np.ndarray:
    """(5, 10) probabilities after ``steps`` SGD steps (lr 0.5) on the first five train digits only."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    import tensorflow as tf

    config = preset("lecture").replace(seed=seed, batch_size=FIVE)  # fresh_network(seed), one batch of the five
    model, run_steps = compile_training(config, data.x_train[:FIVE], data.y_train[:FIVE], total_steps=steps)
    run_steps(tf.constant(np.tile(np.arange(FIVE, dtype=np.int32), (steps, 1))))  # (steps, 5): the five, every step
    return predict_proba(model, data.x_train[:FIVE])


def one_sgd_step(data: MnistData, seed: int = 0) -> tuple[float, float]:
    """(loss before, loss after): the mean cross-entropy of a fresh lecture network on the first
    batch of training digits (the lecture's 32), before and after one SGD step (lr 0.5) on that batch."""
    import tensorflow as tf

    images = data.x_train[: preset("lecture").batch_size]
    labels = data.y_train[: len(images)]
    config = preset("lecture").replace(seed=seed, batch_size=len(images))  # fresh_network(seed)
    model, run_steps = compile_training(config, images, labels, total_steps=1)

    def batch_loss() -> float:
        return float(cross_entropy(predict_logits(model, images), labels).mean())

    before = batch_loss()
    run_steps(tf.constant(np.arange(len(images), dtype=np.int32)[None, :]))  # (1, batch): one step on the batch
    return before, batch_loss()
