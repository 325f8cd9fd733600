"""The code of a run: one standalone Keras 3 script that trains the same network the same way on MNIST.

``training_script(config)`` writes it as a keras-io example reads, top to bottom: the data (Keras' own loader,
or ``--data FILE.npz`` with the lecture's keys X_train, y_train, X_test, y_test or Keras' x_train, ...), the
layers with the same initializer seeds (core.model.network.build_model), the optimizer and its learning-rate
schedule (core.training.loop), the augmentation (core.training.augment, written with ``keras.ops`` so any
Keras 3 backend runs it) for all but the last sixth of the steps, the batch size, the epochs, the seed and
the batch order: each epoch a fresh permutation from ``numpy.random.default_rng(seed)``, in full batches, as
the app draws them. It ends by printing ``test_accuracy=0.xxxx``, as ``python -m core train`` does. The script
imports only Keras, NumPy and the standard library: nothing of this project.

It is the same run, not the same bits: the app trains in compiled chunks of steps (core.training.loop), the
script with ``model.fit``, and the augmentation's random draws differ. tests/test_export_code.py checks that
the script's model has the run's layers and parameter count, and that the lecture preset's script reaches the
lecture's accuracy.
"""

from __future__ import annotations

from fractions import Fraction

from core.model.config import TrainConfig, default_model_name, describe, preset_name
from core.model.store import ModelInfo
from core.training import augment
from core.training.loop import CLEAN_FINISH

INDENT = "        "  # a layer's line inside keras.Sequential([...])


def model_script(info: ModelInfo) -> str:
    """The script of a saved model's run; ValueError for an uploaded model, whose code is wherever it was trained."""
    if info.config is None:
        raise ValueError(f"{info.name!r} was uploaded, not trained here: its code is wherever it was trained")
    return training_script(info.config, info.name)


def training_script(config: TrainConfig, name: str | None = None) -> str:
    """The standalone Keras 3 script of a run of ``config``; ``name`` (the saved model's) goes in its title."""
    config.validate()
    name = name or default_model_name(config)
    parts = [
        _header(config, name, preset_name(config)),
        _setup(config),
        _data(config),
        _augmentation() if config.augment else "",
        _batches(config),
        _model(config),
        _training(config),
        _evaluation(),
    ]
    return "\n\n\n".join(part.strip("\n") for part in parts if part) + "\n"


def _header(config: TrainConfig, name: str, preset: str | None) -> str:
    run = f"the {preset!r} preset" if preset else "a custom setup"
    plain = f"python {script_file_name(name)}"
    with_data = f"{plain} --data mnist_data.npz"
    return f'''"""
Title: MNIST digits: the run {name!r}, as a standalone Keras 3 script
Description: {run} of the MNIST classroom:
{describe(config)}.

The same data, layers, optimizer, learning-rate schedule, augmentation, batch size, epochs and seed as the
app's run. Run it with

    {plain:{len(with_data)}}   # MNIST from keras.datasets.mnist.load_data()
    {with_data}   # the lecture's file (X_train, y_train, X_test, y_test)

`--epochs N` trains for N epochs instead of {config.epochs}; `--save model.keras` keeps the trained model.
The last line it prints is test_accuracy=0.xxxx.
"""'''


def script_file_name(name: str) -> str:
    """A file name for a run's script: the model's name with anything but letters, digits, '-' and '_' as '_'."""
    return "".join(character if character.isalnum() or character in "-_" else "_" for character in name) + ".py"


def _setup(config: TrainConfig) -> str:
    return f'''"""
## Setup
"""

import argparse

import keras
import numpy as np
from keras import layers

parser = argparse.ArgumentParser(description="Train the MNIST classroom's run again.")
parser.add_argument("--data", help="an MNIST .npz file (default: keras.datasets.mnist.load_data())")
parser.add_argument("--epochs", type=int, default={config.epochs}, help="passes over the training digits")
parser.add_argument("--save", help="save the trained model as this .keras file")
args = parser.parse_args()

SEED = {config.seed}
BATCH_SIZE = {config.batch_size}
LEARNING_RATE = {config.learning_rate!r}
VALIDATION_SPLIT = {config.validation_split!r}  # the last digits of the training set, held out to watch
keras.utils.set_random_seed(SEED)'''


def _data(config: TrainConfig) -> str:
    return '''"""
## Prepare the data

The digits are 28x28 grey values 0-255; the network takes them as floats in [0, 1].
"""


def load_mnist(path):
    """(x_train, y_train, x_test, y_test) from an npz file, or from Keras' download when path is None."""
    if path is None:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        return x_train, y_train, x_test, y_test
    with np.load(path, allow_pickle=False) as data:
        keys = ["X_train", "y_train", "X_test", "y_test"]
        if "X_train" not in data:
            keys = ["x_train", "y_train", "x_test", "y_test"]  # Keras' own names
        return [data[key] for key in keys]


def as_pixels(images):
    """(N, 28, 28) or (N, 784) grey values, 0-255 or already 0-1 -> (N, 28, 28) float32 in [0, 1]."""
    images = np.asarray(images, dtype="float32").reshape(-1, 28, 28)
    return images / 255.0 if images.max() > 1 else images


def as_digits(labels):
    """(N,) digits, or (N, 10) one-hot rows -> (N,) int32 digits."""
    labels = np.asarray(labels)
    return (labels.argmax(axis=1) if labels.ndim == 2 else labels).astype("int32")


x_train, y_train, x_test, y_test = load_mnist(args.data)
x_train, x_test = as_pixels(x_train), as_pixels(x_test)  # (N, 28, 28) float32
y_train, y_test = as_digits(y_train), as_digits(y_test)  # (N,) int32
held_out = int(len(x_train) * VALIDATION_SPLIT)
x_val, y_val = x_train[len(x_train) - held_out:], y_train[len(y_train) - held_out:]
x_train, y_train = x_train[: len(x_train) - held_out], y_train[: len(y_train) - held_out]
print(f"{len(x_train):,} training digits, {len(x_val):,} held out, {len(x_test):,} test digits")'''


def _augmentation() -> str:
    low, high = augment.SCALE_RANGE
    pen_low, pen_high = augment.PEN_BLEND_RANGE
    return f'''"""
## Augmentation

Digits drawn on a canvas differ from MNIST's: a little off-centre or off-size, tilted or slanted, squashed
or stretched, drawn with a bolder or thinner pen. Each training digit gets a random mix of those (one affine
warp, then the pen), so the network learns to ignore them. The last steps (CLEAN_FINISH of them) see the
digits as they are: the network ends tuned to clean digits, yet keeps what augmentation taught it.
"""

CLEAN_FINISH = {_fraction(CLEAN_FINISH)}
MAX_ROTATION_DEGREES = {augment.MAX_ROTATION_DEGREES!r}
MAX_SHEAR = {augment.MAX_SHEAR!r}  # horizontal slant: x moves by up to this times y
SCALE_RANGE = ({low!r}, {high!r})  # overall size
MAX_ASPECT_CHANGE = {augment.MAX_ASPECT_CHANGE!r}  # width / height changes by up to this fraction
MAX_SHIFT_PIXELS = {augment.MAX_SHIFT_PIXELS!r}
PEN_RANGE = ({pen_low!r}, {pen_high!r})  # -1: one pixel thinner, +1: two pixels bolder, blended in between
CENTRE = 13.5  # the centre of a 28x28 image
augment_rng = np.random.default_rng(SEED)


def random_transforms(count):
    """(count, 8) output-to-input maps, as keras.ops.image.affine_transform takes them."""

    def uniform(low, high):
        return augment_rng.uniform(low, high, count)

    angle = np.radians(uniform(-MAX_ROTATION_DEGREES, MAX_ROTATION_DEGREES))
    shear = uniform(-MAX_SHEAR, MAX_SHEAR)
    scale_y = uniform(*SCALE_RANGE)
    scale_x = scale_y * uniform(1 - MAX_ASPECT_CHANGE, 1 + MAX_ASPECT_CHANGE)
    shift_x = uniform(-MAX_SHIFT_PIXELS, MAX_SHIFT_PIXELS)
    shift_y = uniform(-MAX_SHIFT_PIXELS, MAX_SHIFT_PIXELS)
    # The forward map about the centre: scale, shear x by y, rotate. [[a, b], [c, d]]:
    cos, sin = np.cos(angle), np.sin(angle)
    a, b = cos * scale_x, (cos * shear - sin) * scale_y
    c, d = sin * scale_x, (sin * shear + cos) * scale_y
    # The op wants its inverse M: input = M (output - centre - shift) + centre.
    det = a * d - b * c
    m00, m01, m10, m11 = d / det, -b / det, -c / det, a / det
    offset_x, offset_y = CENTRE + shift_x, CENTRE + shift_y
    zeros = np.zeros(count)
    return np.stack([m00, m01, CENTRE - m00 * offset_x - m01 * offset_y,
                     m10, m11, CENTRE - m10 * offset_x - m11 * offset_y, zeros, zeros], axis=1).astype("float32")


def augment(images):
    """(B, 28, 28) float32 in [0, 1] -> the same digits, each warped and redrawn with another pen."""
    images = keras.ops.image.affine_transform(
        images[..., None], random_transforms(len(images)), interpolation="bilinear", fill_mode="constant"
    )  # (B, 28, 28, 1)
    pen = augment_rng.uniform(*PEN_RANGE, (len(images), 1, 1, 1)).astype("float32")
    bolder = keras.ops.max_pool(images, 3, strides=1, padding="same")
    thinner = -keras.ops.max_pool(-images, 2, strides=1, padding="same")
    target = keras.ops.where(pen > 0, bolder, thinner)
    return keras.ops.convert_to_numpy(images + abs(pen) * (target - images))[..., 0]'''


def _batches(config: TrainConfig) -> str:
    augmented = config.augment
    lines = [
        '"""',
        "## The batches",
        "",
        "Each epoch a fresh order of the training digits, from a generator seeded with SEED, in full batches",
        "(the digits left over are skipped that epoch).",
        '"""',
        "",
        "steps_per_epoch = len(x_train) // BATCH_SIZE",
        "total_steps = steps_per_epoch * args.epochs",
    ]
    if augmented:
        lines.append("augmented_steps = total_steps - round(total_steps * CLEAN_FINISH)  # then clean digits")
    lines += [
        "",
        "",
        "def training_batches():",
        "    order_rng = np.random.default_rng(SEED)",
    ]
    if augmented:
        lines.append("    step = 0")
    lines += [
        "    for epoch in range(args.epochs):",
        "        order = order_rng.permutation(len(x_train))[: steps_per_epoch * BATCH_SIZE]",
        "        for batch in order.reshape(steps_per_epoch, BATCH_SIZE):",
    ]
    if augmented:
        lines += [
            "            images = augment(x_train[batch]) if step < augmented_steps else x_train[batch]",
            "            step += 1",
            "            yield images, y_train[batch]",
        ]
    else:
        lines.append("            yield x_train[batch], y_train[batch]")
    return "\n".join(lines)


def _model(config: TrainConfig) -> str:
    """The layers of core.model.network.build_model, written out with their values."""
    glorot = "keras.initializers.GlorotUniform"
    layer_lines = ['keras.Input(shape=(28, 28), name="pixels"),']
    if config.architecture == "mlp":
        layer_lines.append('layers.Flatten(name="flatten"),  # 28x28 -> 784, row by row')
    else:
        layer_lines.append('layers.Reshape((28, 28, 1), name="channel"),')
        for block, filters in enumerate(config.conv_filters):
            side = 28 // 2**block
            layer_lines += [
                f"layers.Conv2D(\n{INDENT}    {filters}, 3, padding=\"same\", "
                f"kernel_initializer=keras.initializers.HeUniform(seed={_seed(100 * block)}), "
                f"name=\"conv{block + 1}\"\n{INDENT}),  # (N, {side}, {side}, {filters})",
                f'layers.Activation("{config.activation}", name="conv{block + 1}_{config.activation}"),',
                f'layers.MaxPooling2D(name="pool{block + 1}"),  # (N, {side // 2}, {side // 2}, {filters})',
            ]
        layer_lines.append('layers.Flatten(name="flatten"),')
    for index, units in enumerate(config.hidden_units):
        layer_lines.append(f'layers.Dense({units}, kernel_initializer={glorot}(seed={_seed(1000 + index)}), '
                           f'name="hidden{index + 1}"),')
        if config.batch_norm:
            layer_lines.append(f'layers.BatchNormalization(name="hidden_norm{index + 1}"),')
        layer_lines.append(f'layers.Activation("{config.activation}", name="{config.activation}{index + 1}"),')
        if config.dropout:
            layer_lines.append(f"layers.Dropout({config.dropout!r}, seed={_seed(2000 + index)}),")
    layer_lines.append(f'layers.Dense(10, kernel_initializer={glorot}(seed={_seed(3000)}), name="logits"),')
    body = "\n".join(INDENT + line for line in layer_lines)
    return f'''"""
## Build the model

It ends in 10 logits, not probabilities: the loss below takes the softmax itself (the cross-entropy the
lecture meant; its own loss applied softmax twice). Probabilities are one softmax away.
"""

model = keras.Sequential(
    [
{body}
    ],
    name="mnist_{config.architecture}",
)
model.summary()'''


def _fraction(value: float) -> str:
    """1/6 as '1 / 6', as a reader writes it."""
    fraction = Fraction(value).limit_denominator(100)
    return f"{fraction.numerator} / {fraction.denominator}"


def _seed(offset: int) -> str:
    """The seed of one layer, as build_model derives it from the run's seed."""
    return f"SEED + {offset}" if offset else "SEED"


def _training(config: TrainConfig) -> str:
    if config.lr_schedule == "one-cycle":
        schedule = '''\
# One cycle: warm up from LEARNING_RATE / 25 to LEARNING_RATE over the first 30% of the steps,
# then a cosine down to about 0.
warmup_steps = max(1, int(0.3 * total_steps))
learning_rate = keras.optimizers.schedules.CosineDecay(
    LEARNING_RATE / 25,
    decay_steps=max(1, total_steps - warmup_steps),
    warmup_target=LEARNING_RATE,
    warmup_steps=warmup_steps,
)'''
    elif config.lr_schedule == "cosine":
        schedule = "learning_rate = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, decay_steps=total_steps)"
    else:
        schedule = "learning_rate = LEARNING_RATE  # the same step size all run long"
    optimizer = {
        "adam": "keras.optimizers.Adam(learning_rate)",
        "momentum": "keras.optimizers.SGD(learning_rate, momentum=0.9)",
        "sgd": "keras.optimizers.SGD(learning_rate)",  # plain stochastic gradient descent, as the lecture
    }[config.optimizer]
    validation = "\n    validation_data=(x_val, y_val) if held_out else None," if config.validation_split else ""
    return f'''"""
## Train
"""

{schedule}
model.compile(
    optimizer={optimizer},
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
model.fit(
    training_batches(),
    steps_per_epoch=steps_per_epoch,
    epochs=args.epochs,
    shuffle=False,  # training_batches() gives each epoch in its own order already{validation}
    verbose=2,
)'''


def _evaluation() -> str:
    return '''"""
## Evaluate

The training accuracy on 10,000 training digits spread evenly over the set (all of them when there are
fewer), as the app measures it; the test accuracy on every test digit.
"""

sample = np.linspace(0, len(x_train) - 1, min(len(x_train), 10_000)).astype("int64")
_, train_accuracy = model.evaluate(x_train[sample], y_train[sample], batch_size=1000, verbose=0)
_, test_accuracy = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)
print("Accuracy on training data:", round(train_accuracy, 4))
print("Accuracy on test data:", round(test_accuracy, 4))
if args.save:
    model.save(args.save)
    print(f"saved the model as {args.save}")
print(f"test_accuracy={test_accuracy:.4f}")'''
