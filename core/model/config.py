"""What a run is (TrainConfig), the named presets, and the Keras networks they build."""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from typing import NamedTuple

from core.data.mnist import IMAGE_SIDE, NUM_CLASSES

ARCHITECTURES = ("mlp", "cnn")
ACTIVATIONS = ("tanh", "relu", "sigmoid")
OPTIMIZERS = ("sgd", "momentum", "adam")
SCHEDULES = ("constant", "one-cycle", "cosine")


class Limit(NamedTuple):
    """The smallest and the largest value a numeric TrainConfig field may take, both allowed."""

    low: int | float
    high: int | float


# The one set of limits for the numeric fields: TrainConfig.validate refuses a value outside them, the Train
# form's widgets take them as their min and max (a widget given a value outside its range raises, or quietly
# resets it), and so a shared link (core.model.share_links) with such a value gets a warning naming the field.
LIMITS: dict[str, Limit] = {
    # The lecture's 0.5 is already a large step (its loss is small, see build_model); at 10 a deep ReLU MLP
    # diverges (tests/test_training.py). Below 1e-5 even 500 epochs barely move the weights.
    "learning_rate": Limit(1e-5, 10.0),
    # Above 0.9 nearly every hidden unit is dropped at each step, and the network learns next to nothing.
    "dropout": Limit(0.0, 0.9),
    # Holding out more than half would leave fewer digits to learn from than to watch.
    "validation_split": Limit(0.0, 0.5),
    # 4096 digits per step already leaves only 15 steps an epoch on the full 60,000.
    "batch_size": Limit(1, 4096),
    # 500 passes bound the queue a class shares; the teacher's class rules can set fewer (core.classroom).
    "epochs": Limit(1, 500),
    # Keras keeps 32 bits of a seed (keras.random.draw_seed) and build_model adds up to 3000 to it: below 2**31
    # every seed still gives its own weights.
    "seed": Limit(0, 2**31 - 1),
}
SEED_DRAWN_BELOW = 1_000_000  # random_seed's range: six digits at most
# What a saved model's config is checked against when it is read back: the ranges earlier versions allowed
# before LIMITS narrowed them (fractions below 1, any learning rate above 0, 64-bit seeds). A model trained
# then stays listed, never "damaged"; a new run with its setup is refused, naming the field.
SAVED_LIMITS: dict[str, Limit] = {
    **LIMITS,
    "learning_rate": Limit(0.0, 10.0),
    "dropout": Limit(0.0, 1.0),
    "validation_split": Limit(0.0, 1.0),
    "seed": Limit(0, 2**64 - 1),
}


def _choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


@dataclass
class TrainConfig:
    """Everything that defines a training run; two equal configs train the same model."""

    # "mlp" flattens the digit like the lecture; "cnn" keeps its 2-D shape.
    architecture: str = "mlp"
    # Units of each hidden dense layer; the lecture has one layer of 64.
    hidden_units: tuple[int, ...] = (64,)
    # Filters of each convolution block (cnn only): a 3x3 convolution, then a 2x2 max-pool
    # that halves the image (28 -> 14 -> 7 -> 3).
    conv_filters: tuple[int, ...] = (32, 64)
    # The non-linearity after each hidden layer; the lecture uses tanh.
    activation: str = "tanh"
    # Fraction of hidden units dropped while training, against overfitting.
    dropout: float = 0.0
    # Batch normalization after each hidden dense layer: steadier at a high learning rate.
    # Not after the convolutions: Keras' batch norm is not fused on CPU, and there it halved
    # the CNN's speed for no gain in accuracy (Intel Xeon, 2 cores).
    batch_norm: bool = False
    # "sgd" is the lecture's plain gradient descent; "momentum" adds 0.9 momentum.
    optimizer: str = "sgd"
    # Step size; the lecture's 0.5 is large, because its loss is small (see build_model).
    learning_rate: float = 0.5
    # How the learning rate changes over the run; the lecture keeps it constant.
    lr_schedule: str = "constant"
    # Digits per gradient step; the lecture uses 32.
    batch_size: int = 32
    # Passes over the training set; the lecture makes 5.
    epochs: int = 5
    # Fraction of the training digits held out to watch for overfitting; 0 = none.
    validation_split: float = 0.0
    # Random shifts, zooms, rotations and stroke thickness while training, so that
    # digits drawn on a canvas (bigger, off-centre, bolder) are read right.
    augment: bool = False
    # Seeds weights, shuffling, dropout and augmentation: same seed, same model.
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("hidden_units", "conv_filters"):
            value = getattr(self, name)
            if not isinstance(value, (list, tuple)):
                raise ValueError(f"{name} must be a list of layer sizes, got {value!r}")
            setattr(self, name, tuple(value))
        self.validate()

    def validate(self, limits: dict[str, Limit] = LIMITS) -> None:
        """Raise ValueError naming the first field with a value that cannot train (or lies outside ``limits``)."""
        _choice("architecture", self.architecture, ARCHITECTURES)
        _choice("activation", self.activation, ACTIVATIONS)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("lr_schedule", self.lr_schedule, SCHEDULES)
        for name in ("batch_size", "epochs", "seed"):
            value, (low, high) = getattr(self, name), limits[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be a whole number from {low} to {high:,}, got {value!r}")
        for name in ("learning_rate", "dropout", "validation_split"):
            value, (low, high) = getattr(self, name), limits[name]
            if not _is_number(value) or not low <= value <= high:
                raise ValueError(f"{name} must be a number from {low:g} to {high:g}, got {value!r}")
        for name in ("hidden_units", "conv_filters"):
            units = getattr(self, name)
            if any(isinstance(u, bool) or not isinstance(u, int) or not 1 <= u <= 4096 for u in units):
                raise ValueError(f"{name} must be whole numbers from 1 to 4096, got {units!r}")
        if len(self.hidden_units) > 8:
            raise ValueError(f"hidden_units can list at most 8 layers, got {len(self.hidden_units)}")
        if len(self.conv_filters) > 4:
            raise ValueError(f"conv_filters can list at most 4 convolution blocks, got {len(self.conv_filters)}")
        for name in ("batch_norm", "augment"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.architecture == "cnn" and not self.conv_filters:
            raise ValueError("conv_filters must list at least one convolution block for a cnn")

    def replace(self, **changes) -> "TrainConfig":
        """A copy with some fields changed, validated again."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return {name: list(value) if isinstance(value, tuple) else value
                for name, value in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """Build from a dict (a URL, a request); unknown keys raise ValueError."""
        cls._check_keys(values)
        return cls(**values)

    @classmethod
    def from_saved(cls, values: dict) -> "TrainConfig":
        """A config read back from a saved model: checked like ``from_dict``, but against SAVED_LIMITS."""
        cls._check_keys(values)
        try:
            return cls(**values)
        except ValueError:
            config = cls.__new__(cls)  # the same fields, without __post_init__'s check against LIMITS
            config.__dict__.update({field.name: getattr(cls(), field.name) for field in dataclasses.fields(cls)})
            config.__dict__.update({name: tuple(value) if isinstance(value, list) else value
                                    for name, value in values.items()})
            config.validate(SAVED_LIMITS)
            return config

    @classmethod
    def _check_keys(cls, values: dict) -> None:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown config field(s): {', '.join(sorted(unknown))}")


PRESETS: dict[str, TrainConfig] = {
    # Exactly the lecture: 784 -> 64 tanh -> 10, Glorot-uniform, SGD 0.5, batch 32, 5 epochs.
    "lecture": TrainConfig(),
    # Wider and deeper, ReLU and Adam: a few tenths of a point better in the same time.
    "wide-mlp": TrainConfig(
        hidden_units=(256, 128), activation="relu", dropout=0.2, optimizer="adam",
        learning_rate=1e-3, batch_size=128, epochs=10, validation_split=0.1,
    ),
    # Three blocks of one 3x3 convolution and a max-pool (16, 32, 64 filters), a dense layer
    # of 128 with batch norm, one-cycle Adam and canvas-like augmentation: 99.6% on the test
    # set in less time than the Keras "simple MNIST convnet" example takes for its 99.25%
    # (bench/cnn_speed.py). A second convolution per block, or batch norm after the
    # convolutions, made it 1.6x and 2x slower on two CPU cores, for 0.1 point or less.
    "cnn": TrainConfig(
        architecture="cnn", hidden_units=(128,), conv_filters=(16, 32, 64), activation="relu",
        dropout=0.25, batch_norm=True, optimizer="adam", learning_rate=5e-3,
        lr_schedule="one-cycle", batch_size=128, epochs=12, augment=True,
    ),
    # The same network for a live lesson: 2 epochs of batches of 256 at a higher learning
    # rate reach 99.2-99.3% in a sixth of the Keras example's time (bench/cnn_speed.py).
    "quick-cnn": TrainConfig(
        architecture="cnn", hidden_units=(128,), conv_filters=(16, 32, 64), activation="relu",
        dropout=0.25, batch_norm=True, optimizer="adam", learning_rate=8e-3,
        lr_schedule="one-cycle", batch_size=256, epochs=2, augment=True,
    ),
}


def preset(name: str) -> TrainConfig:
    """A fresh copy of a named preset: 'lecture', 'wide-mlp', 'cnn' or 'quick-cnn'."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return dataclasses.replace(PRESETS[name])


def describe(config: TrainConfig) -> str:
    """A one-line summary, e.g. 'mlp 784-64-10 tanh, sgd lr 0.5, batch 32, 5 epochs'."""
    return f"{describe_network(config)} {config.activation}, {describe_training(config)}"


def describe_network(config: TrainConfig) -> str:
    """The layers, e.g. 'mlp 784-64-10' or 'cnn conv 16-32-64 dense 128-10'."""
    dense = "-".join(str(units) for units in (*config.hidden_units, NUM_CLASSES))
    if config.architecture == "mlp":
        return f"mlp {IMAGE_SIDE * IMAGE_SIDE}-{dense}"
    return f"cnn conv {'-'.join(str(filters) for filters in config.conv_filters)} dense {dense}"


def describe_training(config: TrainConfig) -> str:
    """How it is trained, e.g. 'sgd lr 0.5, batch 32, 5 epochs'."""
    return f"{config.optimizer} lr {config.learning_rate:g}, batch {config.batch_size}, {config.epochs} epochs"


# The longest list of layer sizes parse_units reads: 8 layers of 4096 written "4096, 4096, ..." take 46 characters.
# A longer text is refused before it is read: it comes from a browser (a link, a text box) and may be any size.
MAX_UNITS_TEXT = 100
_DIGITS = frozenset("0123456789")
_SEPARATORS = frozenset(",x")


def parse_units(text: str, what: str = "units") -> tuple[int, ...]:
    """'256, 128' (commas, spaces or x between) -> (256, 128); '' -> ().

    One pass over the text, in time proportional to its length (at most MAX_UNITS_TEXT characters): the pattern
    this replaced backtracked, and 50,000 characters from a link held the server for 16-46 s (issue 22).
    Between each two numbers: one comma or x, spaces around it allowed, or spaces alone; "64,x" or "64,,128" is
    a typo, not (64,) or (64, 128).
    """
    text = str(text)
    if len(text) > MAX_UNITS_TEXT:
        raise ValueError(f"{what}: {len(text):,} characters, more than the {MAX_UNITS_TEXT} a list of layer sizes "
                         "needs; write them like 256, 128")
    text = text.strip()
    numbers: list[str] = []
    separators = 0  # commas and x's since the last number
    spaced = False  # whether white space came since the last number
    readable = not text or text[-1] in _DIGITS
    for character in text:
        if not readable:
            break
        if character in _DIGITS:
            if numbers and not (separators or spaced):  # the same number goes on
                numbers[-1] += character
                continue
            readable = separators <= 1 and not (separators and not numbers)
            numbers.append(character)
            separators, spaced = 0, False
        elif character in _SEPARATORS:
            separators += 1
        else:
            readable = character.isspace()
            spaced = True
    if not readable:
        raise ValueError(f"{what}: {text!r} is not a list of whole numbers; write them like 256, 128")
    return tuple(int(number) for number in numbers)


def format_units(units: tuple[int, ...], separator: str = ", ") -> str:
    """(256, 128) -> '256, 128'."""
    return separator.join(str(unit) for unit in units)


def random_seed() -> int:
    """A new run's seed when nobody set one: drawn at random, so that a class's runs differ, and short enough
    (at most six digits) to read off the page and type into a link that repeats the run exactly."""
    return secrets.randbelow(SEED_DRAWN_BELOW)


def preset_name(config: TrainConfig) -> str | None:
    """The preset ``config`` is, whatever its seed (a seed changes the weights, not the setup); None for none."""
    return next((name for name, values in PRESETS.items() if values.replace(seed=config.seed) == config), None)


def default_model_name(config: TrainConfig) -> str:
    """A readable name for a trained model: the preset's name if it is one (any seed), else a summary.

    e.g. 'lecture', or 'mlp-128x64-relu-adam-3ep'; ModelStore.unique_name adds -2, -3... if taken.
    """
    name = preset_name(config)
    if name is not None:
        return name
    units = config.hidden_units if config.architecture == "mlp" else config.conv_filters
    shape = format_units(units, "x") or "linear"
    return f"{config.architecture}-{shape}-{config.activation}-{config.optimizer}-{config.epochs}ep"
