"""Probabilities from a trained model, fast enough to run on every pen stroke.

One path for every model: this app's own networks take (N, 28, 28) pixels in [0, 1] and give logits, and a
model a student brought (core.classroom.importing) may take 784 values or (28, 28, 1), 0-255 pixels, and give
probabilities. ``model_io`` says how a model is fed and what it gives (``ModelIO``); ``predict_logits`` feeds it
that way and always returns logits, so accuracies, the Draw page and the explanations never need to know.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Literal, Mapping, get_args

import numpy as np

from core.drawing.preprocess import canvas_to_mnist
from core.drawing.strokes import canvas_json_to_mnist

BATCH = 1000
# What one digit may be as a model's input: the square, the square with one channel, or the lecture's 784 values.
INPUT_SHAPES: tuple[tuple[int, ...], ...] = ((28, 28), (28, 28, 1), (784,))
Pixels = Literal["0-1", "0-255"]
PIXELS: tuple[str, ...] = get_args(Pixels)
Output = Literal["logits", "probabilities"]
OUTPUTS: tuple[str, ...] = get_args(Output)
# log(0) is -inf: a probability that rounded to 0 in float32 becomes this logit instead (e^-87 is float32's smallest
# normal number), so a softmax of the logits gives the probabilities back and nothing is infinite.
SMALLEST_PROBABILITY = float(np.finfo(np.float32).tiny)


@dataclass(frozen=True)
class ModelIO:
    """How a model takes digits and what it gives back.

    shape : one digit as the model's input, one of INPUT_SHAPES.
    pixels : "0-1" (floats, what this app's networks take) or "0-255".
    output : "logits", or "probabilities" (a final softmax), whose logs serve as logits: the same softmax,
        the same answer.
    batch : digits per call: fewer for a model with large hidden layers, to bound the memory of a call.
    """

    shape: tuple[int, ...] = (28, 28)
    pixels: Pixels = "0-1"
    output: Output = "logits"
    batch: int = BATCH

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(size) for size in self.shape))
        if self.shape not in INPUT_SHAPES:
            raise ValueError(f"shape must be one of {', '.join(map(str, INPUT_SHAPES))}, got {self.shape}")
        if self.pixels not in PIXELS:
            raise ValueError(f"pixels must be one of {', '.join(PIXELS)}, got {self.pixels!r}")
        if self.output not in OUTPUTS:
            raise ValueError(f"output must be one of {', '.join(OUTPUTS)}, got {self.output!r}")
        if isinstance(self.batch, bool) or not isinstance(self.batch, int) or not 1 <= self.batch <= BATCH:
            raise ValueError(f"batch must be a whole number from 1 to {BATCH}, got {self.batch!r}")

    @property
    def scale(self) -> float:
        """What a pixel in [0, 1] is multiplied by on its way in."""
        return 255.0 if self.pixels == "0-255" else 1.0

    def feed(self, pixels: np.ndarray) -> np.ndarray:
        """(N, 28, 28) float32 in [0, 1] -> the model's input, (N, *shape) at its pixel scale."""
        if self.shape == (28, 28) and self.pixels == "0-1":
            return pixels  # this app's own networks: no copy on the per-stroke path
        return pixels.reshape((len(pixels), *self.shape)) * np.float32(self.scale)

    def logits(self, outputs: np.ndarray) -> np.ndarray:
        """(N, 10) model outputs -> (N, 10) logits."""
        if self.output == "logits":
            return outputs
        return np.log(np.maximum(outputs, SMALLEST_PROBABILITY))

    def to_dict(self) -> dict:
        return {"shape": list(self.shape), "pixels": self.pixels, "output": self.output, "batch": self.batch}

    @classmethod
    def from_dict(cls, values: dict) -> "ModelIO":
        """Read back from a saved model's metadata; ValueError for anything else."""
        if not isinstance(values, dict) or set(values) != {"shape", "pixels", "output", "batch"}:
            raise ValueError(f"expected shape, pixels, output and batch, got {values!r:.80}")
        if not isinstance(values["shape"], list):
            raise ValueError(f"shape must be a list of sizes, got {values['shape']!r:.40}")
        return cls(tuple(values["shape"]), values["pixels"], values["output"], values["batch"])


# model -> its ModelIO: declared (declare_io, from a saved model's metadata) or worked out from its layers.
# Entries go when the model is garbage-collected.
_io: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def declare_io(model, io: ModelIO) -> None:
    """Say how ``model`` is fed (what core.classroom.importing found when it was imported): it wins over
    what ``model_io`` would work out from the layers."""
    _io[model] = io


def model_io(model) -> ModelIO:
    """How ``model`` is fed: as declared, else from its layers. The input shape is the model's own; a first
    ``Rescaling`` layer of 1/255 means it takes 0-255 pixels; a final softmax means probabilities.

    Raises ValueError for a model that takes no single digit-shaped input.
    """
    io = _io.get(model)
    if io is None:
        io = _io[model] = _worked_out(model)
    return io


def _worked_out(model) -> ModelIO:
    import keras

    inputs = getattr(model, "inputs", None) or []
    shape = tuple(inputs[0].shape[1:]) if len(inputs) == 1 else None
    if shape not in INPUT_SHAPES:
        raise ValueError(f"the model takes input of shape {shape}; this app feeds it digits as one of "
                         f"{', '.join(map(str, INPUT_SHAPES))}")
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    first, last = layers[0], layers[-1]
    rescales = isinstance(first, keras.layers.Rescaling) and np.ndim(first.scale) == 0 and math.isclose(
        float(first.scale), 1 / 255, rel_tol=0.01)
    softmax_end = isinstance(last, keras.layers.Softmax) or getattr(
        getattr(last, "activation", None), "__name__", "") == "softmax"
    return ModelIO(shape, "0-255" if rescales else "0-1", "probabilities" if softmax_end else "logits")


def predict_proba(model, images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) floats in [0, 1] (or uint8 0-255) -> (N, 10) probabilities.

    Never ``model.predict``, which sets up a data pipeline on every call
    (tens of ms for one digit). ``predict_on_batch`` runs Keras' compiled
    predict function directly: about 0.2 ms for one digit, against about 1 ms
    for an eager ``model(x)`` call, which keeps the canvas live on every stroke.
    """
    return softmax(predict_logits(model, images))


def predict_logits(model, images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) floats in [0, 1] (or uint8 0-255) -> (N, 10) logits, in batches (``model_io``)."""
    images = np.asarray(images)
    if images.ndim == 2:
        images = images[None]
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"expected digits of shape (N, 28, 28), got {images.shape}")
    pixels = images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32)
    io = model_io(model)
    outputs = [np.asarray(model.predict_on_batch(io.feed(pixels[start: start + io.batch])))
               for start in range(0, len(pixels), io.batch)]
    return io.logits(np.concatenate(outputs)) if outputs else np.zeros((0, 10), np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    """(N, 10) logits -> (N, 10) probabilities, each row summing to 1."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exponentials = np.exp(shifted)
    return (exponentials / exponentials.sum(axis=1, keepdims=True)).astype(np.float32)


def predict_drawing(model, drawing: np.ndarray):
    """A drawing as pixels -> (digit (28, 28), probabilities (10,)), or (None, None) if blank."""
    return _guess(model, canvas_to_mnist(drawing))


def predict_canvas_json(model, drawing: Mapping | None):
    """The Draw page's canvas as it sends its strokes (Fabric's JSON, ``st_canvas(...).json_data``) ->
    (digit (28, 28), probabilities (10,)), or (None, None) for a blank canvas; the page's one call per drawing.

    Raises ValueError, saying what is wrong, for a drawing the canvas could not have sent
    (core.drawing.strokes.canvas_json_strokes).
    """
    return _guess(model, canvas_json_to_mnist(drawing))


def _guess(model, digit: np.ndarray | None):
    if digit is None:
        return None, None
    return digit, predict_proba(model, digit[None])[0]
