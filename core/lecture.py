"""The lecture's two small experiments, on its own network.

1. An untrained network's probabilities for the first five digits: about 0.1
   each, a guess.
2. 200 SGD steps on just those five digits: the network memorizes them
   (probabilities near 1 for the right digit), which is overfitting, not learning.
"""

from __future__ import annotations

import numpy as np

from core.data import MnistData
from core.models import build_model, preset
from core.predict import predict_proba

FIVE = 5


def untrained_probabilities(data: MnistData, seed: int = 0) -> np.ndarray:
    """(5, 10) probabilities of a freshly initialized lecture network for the first five train digits."""
    model = build_model(preset("lecture").replace(seed=seed))
    return predict_proba(model, data.x_train[:FIVE])


def memorize_five(data: MnistData, steps: int = 200, seed: int = 0) -> np.ndarray:
    """(5, 10) probabilities after ``steps`` SGD steps (lr 0.5) on the first five train digits only."""
    import keras
    import tensorflow as tf

    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    config = preset("lecture").replace(seed=seed)
    model = build_model(config)
    optimizer = keras.optimizers.SGD(config.learning_rate)
    pixels = tf.constant(np.asarray(data.x_train[:FIVE], np.float32) / 255.0)
    labels = tf.constant(np.asarray(data.y_train[:FIVE], np.int32))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            logits = model(pixels, training=True)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)

    for _ in range(steps):
        step()
    return predict_proba(model, data.x_train[:FIVE])
