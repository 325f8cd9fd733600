"""Real .keras files for the import tests: models built by hand with Keras (as a student would at home), and a
malicious set, each crafted the way an attacker (or an unlucky student) would make it."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from core.data.mnist import MnistData


def hand_built_mlp(data: MnistData, epochs: int = 8):
    """A student's own MLP, the lecture's way: 784 flattened values in [0, 1] -> dense 32 relu -> 10 softmax
    probabilities, trained with Keras' fit on ``data``."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(32, activation="relu"),
                              layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(data.x_train.reshape(-1, 784) / 255.0, data.y_train, epochs=epochs, batch_size=32, verbose=0)
    return model


def hand_built_cnn(data: MnistData, rescaling: bool = True, epochs: int = 8):
    """A small CNN on (28, 28, 1) digits giving logits. With ``rescaling`` it starts with Rescaling(1/255) and
    takes 0-255 pixels as they come (Keras' own MNIST example style); without, it is trained on 0-255 values
    directly, so only a model file that says "pixels": "0-255" is fed right."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(2)
    front = [layers.Rescaling(1 / 255)] if rescaling else []
    model = keras.Sequential([keras.Input(shape=(28, 28, 1)), *front, layers.Conv2D(4, 3, activation="relu"),
                              layers.MaxPooling2D(), layers.Flatten(), layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.Adam(0.01 if rescaling else 0.001),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(data.x_train[..., None].astype("float32"), data.y_train, epochs=epochs, batch_size=32, verbose=0)
    return model


def residual_model(data: MnistData, epochs: int = 5):
    """A functional network, not a chain: (28, 28, 1) -> conv, pool -> dense 16 -> dense 16 added back to it
    (a residual connection) -> 10 logits -> a Softmax layer; trained with Keras' fit on ``data``."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(3)
    pixels = keras.Input(shape=(28, 28, 1))
    pooled = layers.MaxPooling2D()(layers.Conv2D(4, 3, padding="same", activation="relu")(pixels))
    first = layers.Dense(16, activation="relu")(layers.Flatten()(pooled))
    both = layers.Add()([first, layers.Dense(16, activation="relu")(first)])
    model = keras.Model(pixels, layers.Softmax()(layers.Dense(10)(both)))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(data.x_train[..., None] / 255.0, data.y_train, epochs=epochs, batch_size=32, verbose=0)
    return model


def raw_file(path: Path, content: bytes) -> Path:
    """Any bytes under a .keras name."""
    path.write_bytes(content)
    return path


def keras_file(model, path: Path) -> Path:
    model.save(path)
    return path


def with_entry(path: Path, name: str, content: bytes) -> Path:
    """``path`` with one more entry (or one replaced), written as a new zip next to it."""
    target = path.with_name(f"{path.stem}-{name.replace('.', '-')}.keras")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w") as archive:
        for entry in source.infolist():
            if entry.filename != name:
                archive.writestr(entry, source.read(entry.filename))
        archive.writestr(name, content)
    return target


def declaring_pixels(path: Path, pixels: str) -> Path:
    """The model file with ``"pixels": pixels`` added to its metadata.json, as the import help says."""
    with zipfile.ZipFile(path) as archive:
        metadata = json.loads(archive.read("metadata.json"))
    return with_entry(path, "metadata.json", json.dumps({**metadata, "pixels": pixels}).encode())


def edited_config(path: Path, edit) -> Path:
    """The model file with ``edit(config)`` applied to its config.json (the weights unchanged)."""
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    edit(config)
    return with_entry(path, "config.json", json.dumps(config).encode())


def zip_bomb(path: Path, inflated: int = 300 * 2**20) -> Path:
    """A 'model' whose weights entry is ``inflated`` bytes of zeros deflated to a few hundred kilobytes."""
    target = path.with_name("bomb.keras")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", source.read("config.json"))
        archive.writestr("metadata.json", source.read("metadata.json"))
        with archive.open("model.weights.h5", "w", force_zip64=True) as entry:
            zeros = bytes(2**20)
            for _ in range(inflated // len(zeros)):
                entry.write(zeros)
    return target


def hdf5_bomb(path: Path) -> Path:
    """A model file whose weights file, a few kilobytes, declares a gzip-compressed dataset of 400 MB: small on
    disk and in the zip, huge once read."""
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as weights:
        weights.create_dataset("layers/dense/vars/0", shape=(100_000_000,), dtype="float32", chunks=(1_000_000,),
                               compression="gzip")
    return with_entry(path, "model.weights.h5", buffer.getvalue())


def lambda_model(path: Path) -> Path:
    """A model with a Lambda layer: Python code inside, run by whoever loads it without safe mode."""
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input(shape=(28, 28)), layers.Lambda(lambda x: x * 2.0), layers.Flatten(),
                              layers.Dense(10)])
    return keras_file(model, path)


def custom_layer_model(path: Path) -> Path:
    """A model using a layer class of its author's, registered while it was saved and unknown here."""
    import keras
    from keras import layers

    @keras.saving.register_keras_serializable(package="Home")
    class Doubler(layers.Layer):
        def call(self, inputs):
            return inputs * 2.0

    model = keras.Sequential([keras.Input(shape=(784,)), Doubler(), layers.Dense(10)])
    keras_file(model, path)
    del keras.saving.get_custom_objects()["Home>Doubler"]
    return path


def plain_model(path: Path, input_shape=(28, 28), outputs: int = 10) -> Path:
    """An untrained Flatten -> Dense model of the given input shape and number of outputs."""
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input(shape=input_shape), layers.Flatten(), layers.Dense(outputs)])
    return keras_file(model, path)


def nan_weights_model(path: Path) -> Path:
    """A model whose training diverged: one weight is NaN."""
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input(shape=(28, 28)), layers.Flatten(), layers.Dense(10)])
    kernel, bias = model.layers[-1].get_weights()
    kernel[3, 4] = np.nan
    model.layers[-1].set_weights([kernel, bias])
    return keras_file(model, path)


def shifted_labels_model(model, path: Path) -> Path:
    """``model`` (ending in a Dense of 10) with its answers moved one digit on: what it says for a 3 it now says
    for a 4, so it reads almost no digit right, like a model fed its digits otherwise than it was trained."""
    import keras

    shifted = keras.models.clone_model(model)
    shifted.set_weights(model.get_weights())
    kernel, bias = shifted.layers[-1].get_weights()
    shifted.layers[-1].set_weights([np.roll(kernel, 1, axis=1), np.roll(bias, 1)])
    return keras_file(shifted, path)
