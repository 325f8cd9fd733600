"""MNIST classroom engine: data, drawings, models, evaluation, the classroom and training, in layers
(docs/architecture.md), each layer importing only those below it (checked by import-linter, pyproject.toml).

Plain Python and Keras; importing it does not import TensorFlow or Streamlit. Each public name loads its
module on first use (PEP 562), so ``import core.data`` does not import the rest of the engine: the app's
first page needs a third of it, and every import on that page is paid by a cold server's first visitor
(bench/startup.py).
"""

from __future__ import annotations

import importlib

_MODULE_OF = {  # public name -> the module that defines it
    **dict.fromkeys(["DataError", "MnistData", "flatten_images", "load_mnist", "normalize_images", "one_hot"],
                    "core.data.mnist"),
    **dict.fromkeys(["draw_digits"], "core.drawing.synthetic"),
    **dict.fromkeys(["canvas_to_mnist", "naive_resize"], "core.drawing.preprocess"),
    **dict.fromkeys(["canvas_json_to_mnist"], "core.drawing.strokes"),
    **dict.fromkeys(["PRESETS", "TrainConfig", "describe", "preset"], "core.model.config"),
    **dict.fromkeys(["build_model"], "core.model.network"),
    **dict.fromkeys(["predict_canvas_json", "predict_drawing", "predict_proba"], "core.model.predict"),
    **dict.fromkeys(["ModelInfo", "ModelStore", "StoreError"], "core.model.store"),
    **dict.fromkeys(["drawn_accuracy"], "core.evaluation.metrics"),
    **dict.fromkeys(["Evaluation", "confusion_matrix", "evaluate", "misclassified", "precision_recall"],
                    "core.evaluation.evaluate"),
    **dict.fromkeys(["activations", "embed", "first_layer_weights", "saliency"], "core.evaluation.explain"),
    **dict.fromkeys(["ClassDigits", "ClassDigitsFull", "ClassSet", "with_class_digits"], "core.classroom.class_set"),
    **dict.fromkeys(["EpochRecord", "Progress", "RunState"], "core.training.progress"),
    **dict.fromkeys(["TrainingDiverged", "TrainingResult", "train"], "core.training.loop"),
    **dict.fromkeys(["TrainingJob"], "core.training.job"),
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
