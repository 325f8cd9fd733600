"""Bring your own model: a student's ``.keras`` file becomes one of their saved models.

``import_model`` checks the file, loads it in Keras' safe mode, works out how it is fed (core.model.predict's
ModelIO: its input shape, its pixel scale, logits or probabilities), measures it like a trained model (test,
training and drawn-digit accuracy, core.evaluation) and saves it in the store with "uploaded" as its origin
(core.model.store), under the student's name. From then on it works wherever a trained model does.

Why here, in core.classroom: an import needs the measurements of core.evaluation and the store of core.model,
and core.model may not import core.evaluation (the layers in pyproject.toml); the classroom layer sits above
both, and it is where a model becomes a student's and joins the leaderboard.

Accepted: any Keras 3 model of built-in layers whose one input is 28x28, 28x28x1 or 784 values and whose one
output is 10 values. Pixels go in as 0-1 floats unless the model says otherwise: a first ``Rescaling(1/255)``
layer, or ``"pixels": "0-255"`` in the file's metadata.json (Keras' own metadata entry). Everything else is
refused with one line (ImportRefused) before it can cost memory or touch the models folder:

- a file over MAX_FILE_BYTES, or not a zip (a Keras 2 ``.h5`` is named as such);
- a zip bomb: more entries, or entries inflating to more, than a model of MAX_PARAMETERS needs;
- a Lambda layer or a custom object: code inside the model (Keras' safe mode stays on as well);
- more than MAX_PARAMETERS weights or hidden layers too large to run, read from the config without
  allocating anything (Keras builds the layers symbolically, in a thread of its own, see ``_symbolic``);
- the wrong input or output shape; weights that are NaN or infinite;
- a test accuracy below chance (one digit in ten): the model is then almost surely fed otherwise than it was
  trained, and the message says so (and what the other pixel scale would give).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from core.data.mnist import NUM_CLASSES, MnistData
from core.evaluation.metrics import drawn_accuracy, evaluate_accuracy, train_accuracy
from core.model.predict import BATCH, INPUT_SHAPES, ModelIO, declare_io
from core.model.store import META_ENTRY, META_VERSION, ModelInfo, ModelStore, check_name

# The largest .keras file taken. The cnn preset's file is 1.2 MB and the wide MLP's 2.8 MB; 50 MB holds a
# float32 network of 13 million weights, far more than reading 28x28 digits needs.
MAX_FILE_BYTES = 50 * 2**20
# A Keras 3 file holds config.json, metadata.json and model.weights.h5 (and this app's mnist_run.json).
KERAS_ENTRIES = ("config.json", "metadata.json", "model.weights.h5")
MAX_CONFIG_BYTES = 4 * 2**20  # the cnn preset's config.json is 6 kB
# The most weights taken: 100 MB as float32, twice what a 50 MB file can carry uncompressed.
MAX_PARAMETERS = 25_000_000
# What the entries may inflate to in all: the weights of MAX_PARAMETERS as float32, and the config.
MAX_UNPACKED_BYTES = 4 * MAX_PARAMETERS + MAX_CONFIG_BYTES + 2**20
# The largest hidden layer's output for one digit. The cnn preset's largest is 12,544 values (28x28x16);
# a layer of 4 million values takes 16 MB per digit.
MAX_LAYER_VALUES = 2**22
# Memory one prediction call may take for its largest layer: the batch shrinks for models with large layers.
# 256 MB is the cnn preset's 1,000-digit batch 20 times over.
CALL_BYTES = 2**28
CHANCE = 1 / NUM_CLASSES
PROBE_DIGITS = 1000  # test digits whose outputs tell probabilities from logits
SUM_TOLERANCE = 1e-3  # a row of float32 probabilities sums to 1 within this


class ImportRefused(ValueError):
    """A model file that cannot be imported; the message, one line, says what is wrong and what to do."""


@dataclass(frozen=True)
class Symbolic:
    """What a model's config declares, read without allocating its weights."""

    parameters: int
    inputs: list[tuple]  # each input's shape, batch first
    outputs: list[tuple]
    largest_layer: int  # values in the largest layer output, per digit
    network: str  # the layers in words, input to output


def import_model(source: str | os.PathLike | bytes, data: MnistData, store: ModelStore | None = None,
                 name: str | None = None, owner: str = "", file_name: str | None = None) -> tuple[ModelInfo, str]:
    """Import a ``.keras`` file as a saved model of ``owner`` in ``store``; returns (its info, what was found).

    source : the file's path, or its bytes (an upload).
    data : the digits it is measured on (test, training sample, drawn test digits), as a trained model is.
    name : the name to save it under (a free variant if taken: ``-2``...); None: from ``file_name``.
    file_name : the file's own name, for messages and the default name; None: from ``source``'s path.
    Raises ImportRefused (one line) for a file that cannot be imported, StoreError for an unusable name.
    """
    shown = file_name or (Path(source).name if not isinstance(source, bytes) else "the file")
    base = check_name(name) if name else _name_from(shown)
    store = store or ModelStore()
    content = _read(source, shown)
    config, declared = _check_archive(content, shown)
    symbolic = _symbolic(config, shown)
    with tempfile.TemporaryDirectory(prefix="mnist-import-") as folder:
        path = Path(folder) / "model.keras"
        path.write_bytes(content)
        model = _load(path, shown)
    _check_weights(model, shown)
    try:
        model_io = _feeding(model, symbolic, declared, data, shown)
        declare_io(model, model_io)
        test_accuracy = evaluate_accuracy(model, data.x_test, data.y_test)
        if not test_accuracy >= CHANCE:
            raise ImportRefused(_below_chance(model, model_io, data, test_accuracy, shown))
        measured_train = train_accuracy(model, data)
    except ImportRefused:
        raise
    except Exception as error:  # noqa: BLE001 - a model that loads but cannot run (an integer input, say)
        first_line = " ".join(str(error).split(". ")[0].split())[:160]
        raise ImportRefused(f"{shown} could not read MNIST digits ({type(error).__name__}: {first_line}); check "
                            "that it runs on float32 input in Keras") from None
    try:
        drawn = drawn_accuracy(model, data)
    except Exception:  # a test set the drawing pipeline cannot draw must not cost the student the import
        drawn = None
    meta = {
        "version": META_VERSION, "origin": "uploaded", "config": None,
        "train_accuracy": measured_train, "test_accuracy": test_accuracy, "training_seconds": 0.0,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "batch_losses": [],
        "epoch_history": [], "data_description": "", "stopped": False, "parameters": symbolic.parameters,
        "owner": owner, "drawn_accuracy": drawn, "network": symbolic.network, "io": model_io.to_dict(),
    }
    packed = _with_meta(content, meta)
    info = store.add_new_file(base, packed)
    return info, found(info)


def found(info: ModelInfo) -> str:
    """What an import found, in one line: its name, how it is fed, what it outputs, how well it reads."""
    model_io = info.io or ModelIO()
    drawn = f", drawn digits {info.drawn_accuracy:.1%}" if info.drawn_accuracy is not None else ""
    outputs = "softmax probabilities" if model_io.output == "probabilities" else "logits"
    shape = "784 values" if model_io.shape == (784,) else "×".join(map(str, model_io.shape))
    return (f"Imported as {info.name!r}: input {shape}, pixels {model_io.pixels}, outputs {outputs} (detected); "
            f"test accuracy {info.test_accuracy:.1%}{drawn}.")


def _name_from(file_name: str) -> str:
    """A model name from a file name: its stem with anything a name may not hold made '-'."""
    stem = Path(file_name).name.removesuffix(".keras")
    name = re.sub(r"[^A-Za-z0-9 _.-]+", "-", stem).strip(" _.-")[:64].rstrip(" _.-")
    return name or "uploaded"


def _read(source, shown: str) -> bytes:
    """The file's bytes; refused over MAX_FILE_BYTES before reading (a path's size comes from the file system)."""
    if isinstance(source, bytes):
        size = len(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise ImportRefused(f"{shown}: no such file (or not a plain file); name a .keras file")
        size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ImportRefused(f"{shown} is {size / 2**20:.1f} MB, more than the {MAX_FILE_BYTES // 2**20} MB a model "
                            "may take here; a network for 28x28 digits needs far less")
    if isinstance(source, bytes):
        return source
    with open(source, "rb") as file:
        return file.read(MAX_FILE_BYTES + 1)


def _check_archive(content: bytes, shown: str) -> tuple[dict, str | None]:
    """(config.json as a dict, the pixel scale the file declares or None); refuses anything else.

    Every entry's declared size is checked before any is inflated, so a zip bomb costs nothing.
    """
    if content[:8] == b"\x89HDF\r\n\x1a\n":
        raise ImportRefused(f"{shown} is an HDF5 (.h5) file, Keras 2's format: load it in Keras and save it again "
                            "with model.save('name.keras')")
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):  # zipfile's complaints about a broken directory
        raise ImportRefused(f"{shown} is not a .keras file (a .keras file is a zip archive; this is not one): "
                            "save your model with model.save('name.keras')") from None
    with archive:
        names = [entry.filename for entry in entries]
        unexpected = [name for name in names if name not in (*KERAS_ENTRIES, META_ENTRY)]
        if unexpected or len(set(names)) != len(names):
            listed = ", ".join(sorted(set(unexpected)))[:80] or "an entry twice"
            raise ImportRefused(f"{shown} holds {listed}, which a Keras 3 model file does not: save the model "
                                "with model.save('name.keras') in Keras 3")
        if "config.json" not in names or "model.weights.h5" not in names:
            raise ImportRefused(f"{shown} has no config.json or no model.weights.h5: it is not a Keras 3 model "
                                "file; save the model with model.save('name.keras')")
        unpacked = sum(entry.file_size for entry in entries)
        if unpacked > MAX_UNPACKED_BYTES:
            raise ImportRefused(f"{shown} would inflate to {unpacked:,} bytes, more than a model of "
                                f"{MAX_PARAMETERS:,} weights takes: refused as a zip bomb")
        config_entry = archive.getinfo("config.json")
        if config_entry.file_size > MAX_CONFIG_BYTES:
            raise ImportRefused(f"{shown}: its config.json would inflate to {config_entry.file_size:,} bytes, more "
                                f"than the {MAX_CONFIG_BYTES:,} any model of built-in layers needs: refused as a "
                                "zip bomb")
        try:
            config = json.loads(archive.read("config.json"))
            declared = _declared_pixels(archive, names)
            _check_weight_file(archive.read("model.weights.h5"), shown)
        except ImportRefused:
            raise
        except RecursionError:
            raise ImportRefused(f"{shown}: its config.json is nested too deep to be a model's") from None
        except Exception as error:  # zlib, json, a bad CRC: a damaged file
            raise ImportRefused(f"{shown} is damaged ({type(error).__name__}: {' '.join(str(error).split())[:120]}); "
                                "save the model again with model.save('name.keras')") from None
    if not isinstance(config, dict):
        raise ImportRefused(f"{shown}: its config.json holds no model; save the model with model.save('name.keras')")
    _check_layers(config, shown)
    return config, declared


def _declared_pixels(archive: zipfile.ZipFile, names: list[str]) -> str | None:
    """The pixel scale the file states: ``"pixels"`` in metadata.json, or how this app fed it before (a model
    downloaded from a Models page carries mnist_run.json); None when it does not say."""
    if "metadata.json" in names and archive.getinfo("metadata.json").file_size <= MAX_CONFIG_BYTES:
        metadata = json.loads(archive.read("metadata.json"))
        if isinstance(metadata, dict) and "pixels" in metadata:
            return _pixels_value(metadata["pixels"], "metadata.json")
    if META_ENTRY in names and archive.getinfo(META_ENTRY).file_size <= MAX_CONFIG_BYTES:
        meta = json.loads(archive.read(META_ENTRY))
        if isinstance(meta, dict):
            fed = meta.get("io")
            return _pixels_value(fed.get("pixels"), META_ENTRY) if isinstance(fed, dict) else "0-1"
    return None


def _pixels_value(value, where: str) -> str:
    pixels = str(value).replace(" ", "")
    if pixels not in ("0-1", "0-255"):
        raise ImportRefused(f"{where} says the model takes pixels {str(value)[:20]!r}; write \"0-1\" (floats) or "
                            "\"0-255\"")
    return pixels


def _check_weight_file(content: bytes, shown: str) -> None:
    """The HDF5 weights' declared sizes, read from their headers: HDF5 compresses too, so a small file could
    declare gigabytes of weights that Keras would read whole."""
    import h5py

    total = 0

    def add(name, item) -> None:
        nonlocal total
        if isinstance(item, h5py.Dataset):
            total += math.prod(item.shape or ()) * item.dtype.itemsize

    with h5py.File(io.BytesIO(content), "r") as weights:
        weights.visititems(add)
    if total > 4 * MAX_PARAMETERS:
        raise ImportRefused(f"{shown}: its weights declare {total:,} bytes, more than the {MAX_PARAMETERS:,} "
                            "weights a model may have here: refused as a bomb")


def _check_layers(config: dict, shown: str) -> None:
    """Refuse code inside the model: a Lambda layer, or any object that is not one of Keras' own."""
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            kind = item.get("class_name")
            if kind == "Lambda":
                raise ImportRefused(f"{shown} has a Lambda layer, which carries Python code, and code is never run "
                                    "here: build the model from Keras' own layers only")
            module = item.get("module")
            if isinstance(kind, str) and (item.get("registered_name") not in (None, kind)
                                          or isinstance(module, str) and not module.startswith("keras")):
                raise ImportRefused(f"{shown} uses a custom object ({str(item.get('registered_name') or kind)[:40]}), "
                                    "code that is never run here: build the model from Keras' own layers only")
            stack.extend(item.values())


def _symbolic(config: dict, shown: str) -> Symbolic:
    """Build the model from its config without allocating a weight, and read its size and shapes.

    Inside ``keras.StatelessScope(initialize_variables=False)`` Keras creates the layers' variables empty and
    lists them to be filled when the scope ends. That list is per thread (Keras' global state is thread-local),
    so the build runs in a thread of its own: when it ends, the list goes with it and nothing is ever
    allocated, however large the config says the weights are (a Dense layer of a billion units is read in
    milliseconds). Safe mode refuses code here too.
    """
    import keras

    config = {**config, "compile_config": None}
    answer: dict = {}

    def build() -> None:
        try:
            with keras.StatelessScope(initialize_variables=False):
                model = keras.saving.deserialize_keras_object(config, safe_mode=True)
                if not isinstance(model, keras.Model):
                    raise ValueError(f"config.json describes a {type(model).__name__}, not a model")
                try:
                    inputs, outputs = model.inputs or [], model.outputs or []
                except AttributeError:  # a Sequential built without keras.Input has none
                    inputs, outputs = [], []
                answer["symbolic"] = Symbolic(
                    parameters=sum(math.prod(weight.shape) for weight in model.weights),
                    inputs=[tuple(tensor.shape) for tensor in inputs],
                    outputs=[tuple(tensor.shape) for tensor in outputs],
                    largest_layer=max((math.prod(shape[1:]) for shape in _layer_shapes(model)), default=0),
                    network=_describe(model),
                )
        except Exception as error:  # noqa: BLE001 - whatever Keras raises for a config it cannot build
            answer["error"] = error

    thread = threading.Thread(target=build, name="mnist-import-check", daemon=True)
    thread.start()
    thread.join()
    if "error" in answer:
        error = answer["error"]
        first_line = " ".join(str(error).split(". ")[0].split())[:160]
        raise ImportRefused(f"{shown} cannot be built from its config ({type(error).__name__}: {first_line}); "
                            "use Keras 3's own layers only")
    symbolic: Symbolic = answer["symbolic"]
    if len(symbolic.inputs) != 1 or symbolic.inputs[0][1:] not in INPUT_SHAPES:
        raise ImportRefused(f"{shown} takes input of shape {_shapes(symbolic.inputs)}; a model here must take one "
                            "digit as 28x28, 28x28x1 or 784 values, e.g. keras.Input(shape=(28, 28))")
    if len(symbolic.outputs) != 1 or symbolic.outputs[0][1:] != (NUM_CLASSES,):
        raise ImportRefused(f"{shown} gives output of shape {_shapes(symbolic.outputs)}; a model here must give "
                            "10 values per digit, one per digit 0-9 (logits or softmax probabilities)")
    if symbolic.parameters > MAX_PARAMETERS:
        raise ImportRefused(f"{shown} has {symbolic.parameters:,} weights, more than the {MAX_PARAMETERS:,} a model "
                            "may have here")
    if symbolic.largest_layer > MAX_LAYER_VALUES:
        raise ImportRefused(f"{shown} has a layer of {symbolic.largest_layer:,} values per digit, more than the "
                            f"{MAX_LAYER_VALUES:,} this server can run")
    return symbolic


def _layer_shapes(model) -> list[tuple]:
    """Every layer's output shape (batch first), inside nested models too; a layer used twice is skipped."""
    shapes = []
    for layer in model.layers:
        with contextlib.suppress(AttributeError, ValueError):  # a layer called more than once has no single output
            shapes.append(tuple(size or 1 for size in layer.output.shape))
        if hasattr(layer, "layers"):
            shapes += _layer_shapes(layer)
    return shapes


def _describe(model) -> str:
    """The layers in words, input to output, e.g. '784 → dense 128 relu → dense 10 softmax'."""
    import keras

    try:
        parts = [" × ".join(str(size) for size in model.inputs[0].shape[1:])]
    except (AttributeError, IndexError, TypeError):  # no input declared: the shape check refuses it
        parts = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        words = type(layer).__name__.lower()
        if isinstance(layer, keras.layers.Dense):
            words = f"dense {layer.units}"
        elif isinstance(layer, keras.layers.Conv2D):
            words = f"conv {layer.filters} {'x'.join(map(str, layer.kernel_size))}"
        activation = getattr(getattr(layer, "activation", None), "__name__", "linear")
        if activation != "linear" and not isinstance(layer, keras.layers.Activation):
            words += f" {activation}"
        elif isinstance(layer, keras.layers.Activation):
            words = activation
        parts.append(words)
    text = " → ".join(parts)
    return text if len(text) <= 200 else text[:199] + "…"


def _shapes(shapes: list[tuple]) -> str:
    return ", ".join(str(shape) for shape in shapes) or "none"


def _load(path: Path, shown: str):
    """The Keras model, loaded in safe mode; refused with Keras' reason in one line."""
    import keras

    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as error:  # noqa: BLE001 - Keras raises many kinds for a file it cannot load
        first_line = " ".join(str(error).split(". ")[0].split())[:160]
        raise ImportRefused(f"{shown} could not be loaded by Keras ({type(error).__name__}: {first_line})") from None


def _check_weights(model, shown: str) -> None:
    for weight in model.weights:
        if not np.all(np.isfinite(np.asarray(weight))):
            raise ImportRefused(f"{shown} has NaN or infinite weights (in {weight.path}): its training diverged; "
                                "train it again with a lower learning rate")


def _feeding(model, symbolic: Symbolic, declared: str | None, data: MnistData, shown: str) -> ModelIO:
    """How the model is fed: its input shape, the pixel scale it states (else 0-1), and whether its outputs
    are probabilities (every row of PROBE_DIGITS test digits non-negative and summing to 1) or logits."""
    import keras

    shape = symbolic.inputs[0][1:]
    first = next((layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)), None)
    rescales = isinstance(first, keras.layers.Rescaling) and np.ndim(first.scale) == 0 and math.isclose(
        float(first.scale), 1 / 255, rel_tol=0.01)
    pixels = declared or ("0-255" if rescales else "0-1")
    batch = max(1, min(BATCH, CALL_BYTES // (4 * max(1, symbolic.largest_layer))))
    probe = ModelIO(shape, pixels, "logits", batch)
    sample = data.x_test[:PROBE_DIGITS].astype(np.float32) / 255.0
    outputs = np.concatenate([np.asarray(model.predict_on_batch(probe.feed(sample[start: start + batch])))
                              for start in range(0, len(sample), batch)])  # (N, 10)
    if not np.all(np.isfinite(outputs)):
        raise ImportRefused(f"{shown} gives NaN or infinite outputs for MNIST digits; check it in Keras first")
    probabilities = bool(np.all(outputs >= 0) and np.allclose(outputs.sum(axis=1), 1, atol=SUM_TOLERANCE))
    return ModelIO(shape, pixels, "probabilities" if probabilities else "logits", batch)


def _below_chance(model, model_io: ModelIO, data: MnistData, accuracy: float, shown: str) -> str:
    """Why a model that reads fewer test digits than guessing would is refused, and what the other scale gives."""
    other = ModelIO(model_io.shape, "0-255" if model_io.pixels == "0-1" else "0-1", model_io.output, model_io.batch)
    declare_io(model, other)
    other_accuracy = evaluate_accuracy(model, data.x_test, data.y_test)
    hint = (f" With pixels {other.pixels} it reads {other_accuracy:.1%}: add \"pixels\": \"{other.pixels}\" to "
            "the metadata.json inside the .keras file." if other_accuracy >= CHANCE else "")
    return (f"{shown} reads only {accuracy:.1%} of the {len(data.y_test):,} test digits right, below the "
            f"{CHANCE:.0%} of guessing: it is probably fed otherwise than it was trained (pixels "
            f"{model_io.pixels}, as {'784 values' if model_io.shape == (784,) else 'a 28x28 square'}).{hint}")


def _with_meta(content: bytes, meta: dict) -> bytes:
    """The model file with this app's mnist_run.json (stored uncompressed, as ModelStore.save writes it) in place
    of any it had."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(buffer, "w") as target:
        for entry in source.infolist():
            if entry.filename != META_ENTRY:
                target.writestr(entry, source.read(entry.filename))
        target.writestr(META_ENTRY, json.dumps(meta), compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()
