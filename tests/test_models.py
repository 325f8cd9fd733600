"""core.model.config: config validation, the presets, and the networks they build."""

from __future__ import annotations

import numpy as np
import pytest

from core.model.config import LIMITS, PRESETS, TrainConfig, describe, preset
from core.model.network import build_model

BAD_VALUES = [
    ("architecture", "rnn"),
    ("hidden_units", (64, 0)),
    ("hidden_units", (64.5,)),
    ("hidden_units", 64),
    ("hidden_units", (8,) * 9),
    ("conv_filters", (-1,)),
    ("conv_filters", (8,) * 5),
    ("activation", "swish"),
    ("dropout", 1.0),
    ("dropout", 0.95),
    ("dropout", -0.1),
    ("batch_norm", "no"),
    ("optimizer", "rmsprop"),
    ("learning_rate", -0.1),
    ("learning_rate", 0),
    ("learning_rate", 1e-7),
    ("learning_rate", float("inf")),
    ("learning_rate", float("nan")),
    ("learning_rate", "0.5"),
    ("learning_rate", True),
    ("lr_schedule", "step"),
    ("batch_size", 0),
    ("batch_size", 1.5),
    ("batch_size", True),
    ("batch_size", 5000),
    ("epochs", 0),
    ("epochs", -3),
    ("epochs", 501),
    ("validation_split", 1.0),
    ("validation_split", 0.9),
    ("validation_split", -0.2),
    ("augment", 1),
    ("seed", -1),
    ("seed", 1.5),
    ("seed", 3_000_000_000),
]


@pytest.mark.parametrize(("field", "value"), BAD_VALUES, ids=[f"{f}={v!r}" for f, v in BAD_VALUES])
def test_each_bad_value_raises_value_error_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})
    with pytest.raises(ValueError, match=field):
        preset("lecture").replace(**{field: value})


@pytest.mark.parametrize("field", list(LIMITS))
def test_each_limit_is_allowed_and_a_step_beyond_it_is_refused_with_the_limit_named(field):
    low, high = LIMITS[field]
    assert getattr(preset("lecture").replace(**{field: low}), field) == low
    assert getattr(preset("lecture").replace(**{field: high}), field) == high
    below, above = (low - 1, high + 1) if isinstance(high, int) else (low - 1e-9, high + 1e-9)
    for beyond in (below, above):
        with pytest.raises(ValueError, match=rf"^{field} must be a (whole )?number from .* to .*, got"):
            preset("lecture").replace(**{field: beyond})


def test_the_limits_are_typed_like_their_fields():
    defaults = TrainConfig()
    assert all(type(limit.low) is type(limit.high) is type(getattr(defaults, field)) for field, limit in LIMITS.items())


def test_a_cnn_needs_a_convolution_block():
    with pytest.raises(ValueError, match="conv_filters"):
        TrainConfig(architecture="cnn", conv_filters=())


def test_validate_catches_a_field_changed_after_construction():
    config = preset("lecture")
    config.batch_size = 0
    with pytest.raises(ValueError, match="batch_size"):
        config.validate()


def test_lecture_preset_is_exactly_the_lecture():
    config = preset("lecture")
    assert config.architecture == "mlp"
    assert config.hidden_units == (64,)
    assert config.activation == "tanh"
    assert config.optimizer == "sgd" and config.lr_schedule == "constant"
    assert config.learning_rate == 0.5
    assert config.batch_size == 32
    assert config.epochs == 5
    assert config.validation_split == 0
    assert config.dropout == 0 and not config.batch_norm and not config.augment
    assert describe(config) == "mlp 784-64-10 tanh, sgd lr 0.5, batch 32, 5 epochs"


def test_lecture_network_layers_init_and_parameter_count():
    import keras

    model = build_model(preset("lecture"))
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [tuple(layer.kernel.shape) for layer in dense] == [(784, 64), (64, 10)]
    assert all(isinstance(layer.kernel_initializer, keras.initializers.GlorotUniform) for layer in dense)
    assert all(np.all(np.asarray(layer.bias) == 0) for layer in dense)  # the lecture's tf.zeros biases
    activations = [layer for layer in model.layers if isinstance(layer, keras.layers.Activation)]
    assert [layer.activation.__name__ for layer in activations] == ["tanh"]
    assert model.count_params() == 784 * 64 + 64 + 64 * 10 + 10 == 50_890


def test_lecture_optimizer_is_plain_sgd_at_0_5():
    import keras

    from core.training.loop import _make_optimizer

    optimizer = _make_optimizer(preset("lecture"), total_steps=100)
    assert isinstance(optimizer, keras.optimizers.SGD)
    assert float(optimizer.learning_rate) == pytest.approx(0.5)
    assert float(optimizer.momentum) == 0.0


def test_model_outputs_logits_not_probabilities():
    import keras

    model = build_model(preset("lecture"))
    assert model.layers[-1].activation is keras.activations.linear
    rng = np.random.default_rng(0)
    outputs = np.asarray(model(rng.random((8, 28, 28), dtype=np.float32)))
    assert outputs.shape == (8, 10)
    assert outputs.min() < 0  # a softmax could never give a negative number
    assert not np.allclose(outputs.sum(axis=1), 1.0)


def test_docstring_explains_the_double_softmax():
    doc = build_model.__doc__.lower()
    assert "softmax" in doc and "twice" in doc and "from logits" in doc


def test_same_seed_same_weights_different_seed_different_weights():
    first = build_model(preset("lecture")).get_weights()
    again = build_model(preset("lecture")).get_weights()
    other = build_model(preset("lecture").replace(seed=1)).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0])


@pytest.mark.parametrize("config", [
    preset("wide-mlp"),
    TrainConfig(architecture="cnn", conv_filters=(4,), hidden_units=(8,), batch_norm=True, dropout=0.1),
], ids=["wide-mlp", "small-cnn"])
def test_other_networks_map_digits_to_ten_logits(config):
    model = build_model(config)
    assert model.output_shape == (None, 10)
    assert np.asarray(model(np.zeros((2, 28, 28), np.float32), training=False)).shape == (2, 10)


@pytest.mark.parametrize("name", ["cnn", "quick-cnn"])
def test_cnn_presets_are_blocks_of_one_convolution_and_a_pool_with_batch_norm_on_the_dense_layer(name):
    import keras

    config = preset(name)
    model = build_model(config)
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    pools = [layer for layer in model.layers if isinstance(layer, keras.layers.MaxPooling2D)]
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert [layer.filters for layer in convolutions] == list(config.conv_filters) == [16, 32, 64]
    assert [tuple(layer.output.shape[1:3]) for layer in pools] == [(14, 14), (7, 7), (3, 3)]
    assert [layer.name for layer in norms] == ["hidden_norm1"]  # none after a convolution: see TrainConfig
    assert config.augment and config.batch_norm and config.lr_schedule == "one-cycle"


def test_quick_cnn_is_the_cnn_network_trained_for_less_time():
    cnn, quick = preset("cnn"), preset("quick-cnn")
    assert (quick.conv_filters, quick.hidden_units, quick.dropout) == (cnn.conv_filters, cnn.hidden_units, cnn.dropout)
    assert quick.augment == cnn.augment and quick.batch_norm == cnn.batch_norm
    assert quick.epochs < cnn.epochs


def test_preset_returns_a_fresh_copy():
    changed = preset("lecture")
    changed.epochs = 1
    changed.hidden_units = (8,)
    assert preset("lecture").epochs == 5
    assert PRESETS["lecture"].hidden_units == (64,)


def test_preset_names_and_unknown_preset():
    assert set(PRESETS) == {"lecture", "wide-mlp", "cnn", "quick-cnn"}
    with pytest.raises(ValueError, match="lecture"):
        preset("resnet")


def test_dict_round_trip_and_unknown_keys():
    config = preset("wide-mlp").replace(seed=7)
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert config.to_dict()["hidden_units"] == [256, 128]  # JSON-friendly lists
    with pytest.raises(ValueError, match="colour"):
        TrainConfig.from_dict({**config.to_dict(), "colour": "red"})
