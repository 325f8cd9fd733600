"""The Keras network a TrainConfig describes: (N, 28, 28) pixels in [0, 1] -> (N, 10) logits."""

from __future__ import annotations

from typing import NamedTuple

from core.data.mnist import IMAGE_SIDE, NUM_CLASSES
from core.model.config import TrainConfig
from core.tensorflow_import import import_tensorflow


class NetworkSize(NamedTuple):
    """What a config's network costs, counted from its shape without building it (no TensorFlow)."""

    parameters: int  # weights and biases, batch norm's four per unit included: build_model(config).count_params()
    activations: int  # numbers one digit's forward pass produces, every layer's output counted
    flops: int  # multiply-adds x 2 of one digit's forward pass; a training step costs about 3x this per digit


def network_size(config: TrainConfig) -> NetworkSize:
    """The NetworkSize of the network ``build_model(config)`` builds: what the estimate checks a network against
    before any of it is built (core.training.estimate), since building and timing a huge one is itself the harm."""
    parameters = activations = flops = 0
    width = 28 * 28  # numbers per digit flowing into the next layer
    if config.architecture == "cnn":
        side, channels = 28, 1
        for filters in config.conv_filters:
            parameters += 9 * channels * filters + filters
            flops += 2 * 9 * channels * filters * side * side
            activations += 2 * side * side * filters  # the convolution and its activation
            side //= 2  # the max-pool
            activations += side * side * filters
            channels = filters
        width = side * side * channels
    for units in config.hidden_units:
        parameters += width * units + units + (4 * units if config.batch_norm else 0)
        flops += 2 * width * units
        activations += units * (2 + bool(config.batch_norm) + bool(config.dropout))
        width = units
    parameters += width * 10 + 10
    flops += 2 * width * 10
    activations += 10
    return NetworkSize(parameters, activations, flops)


def build_model(config: TrainConfig):
    """A Keras model: (N, 28, 28) pixels in [0, 1] -> (N, 10) logits.

    The model ends in logits, not probabilities, and is trained with sparse
    categorical cross-entropy *from logits*. The lecture computes its loss as
    ``-sum(y * log(softmax(class_probs)))`` where ``class_probs`` is already a
    softmax: softmax is applied twice. Squashing probabilities in [0, 1]
    through a second softmax leaves all ten outputs between about 0.09 and
    0.23, so the loss can never get near 0 and its gradients are small; the
    lecture's large learning rate of 0.5 partly makes up for that. Cross-entropy
    on the logits is the loss the lecture meant: it goes to 0 for a confident
    right answer and gives strong gradients for a confident wrong one.
    Probabilities are one softmax of the logits away (core.model.predict).
    """
    import_tensorflow()  # with the cycle collector paused, the first time (core.tensorflow_import)
    import keras
    from keras import layers

    config.validate()
    seed = config.seed
    model_layers: list = [keras.Input(shape=(IMAGE_SIDE, IMAGE_SIDE), name="pixels")]
    if config.architecture == "mlp":
        model_layers.append(layers.Flatten(name="flatten"))  # the lecture's reshape to 784
    else:
        model_layers.append(layers.Reshape((IMAGE_SIDE, IMAGE_SIDE, 1), name="channel"))
        for block, filters in enumerate(config.conv_filters):
            model_layers.append(layers.Conv2D(
                filters, 3, padding="same",
                kernel_initializer=keras.initializers.HeUniform(seed=seed + 100 * block), name=f"conv{block + 1}",
            ))  # (N, side, side, filters), side = IMAGE_SIDE / 2**block
            model_layers.append(layers.Activation(config.activation, name=f"conv{block + 1}_{config.activation}"))
            model_layers.append(layers.MaxPooling2D(name=f"pool{block + 1}"))  # halves the side
        model_layers.append(layers.Flatten(name="flatten"))
    for index, units in enumerate(config.hidden_units):
        model_layers.append(layers.Dense(
            units, kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 1000 + index),
            name=f"hidden{index + 1}",
        ))
        if config.batch_norm:
            model_layers.append(layers.BatchNormalization(name=f"hidden_norm{index + 1}"))
        model_layers.append(layers.Activation(config.activation, name=f"{config.activation}{index + 1}"))
        if config.dropout:
            model_layers.append(layers.Dropout(config.dropout, seed=seed + 2000 + index))
    model_layers.append(layers.Dense(
        NUM_CLASSES, kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 3000), name="logits",
    ))
    return keras.Sequential(model_layers, name=f"mnist_{config.architecture}")
