"""MNIST classroom engine: data, models, training, preprocessing, prediction, model store.

Plain Python and Keras; importing it does not import TensorFlow or Streamlit. Each public name loads its
module on first use (PEP 562), so ``import core.data`` does not import the rest of the engine: the app's
first page needs a third of it, and every import on that page is paid by a cold server's first visitor
(bench/startup.py).
"""

from __future__ import annotations

import importlib

_MODULE_OF = {  # public name -> the module that defines it
    **dict.fromkeys(["DataError", "MnistData", "flatten_images", "load_mnist", "normalize_images", "one_hot"],
                    "core.data"),
    **dict.fromkeys(["draw_digits", "drawn_accuracy"], "core.drawn_digits"),
    **dict.fromkeys(["Evaluation", "confusion_matrix", "evaluate", "misclassified", "precision_recall"],
                    "core.evaluate"),
    **dict.fromkeys(["activations", "embed", "first_layer_weights", "saliency"], "core.explain"),
    **dict.fromkeys(["ClassDigits", "ClassDigitsFull", "ClassSet", "with_class_digits"], "core.handwriting"),
    **dict.fromkeys(["PRESETS", "TrainConfig", "build_model", "describe", "preset"], "core.models"),
    **dict.fromkeys(["predict_drawing", "predict_proba"], "core.predict"),
    **dict.fromkeys(["canvas_to_mnist", "naive_resize"], "core.preprocess"),
    **dict.fromkeys(["ModelInfo", "ModelStore", "StoreError"], "core.store"),
    **dict.fromkeys(["EpochRecord", "Progress", "RunState", "TrainingDiverged", "TrainingJob", "TrainingResult",
                     "train"], "core.training"),
}
__all__ = list(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'core' has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    globals()[name] = value  # later uses skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
