"""A model: what a run is (config), the Keras network it builds (network), its guesses (predict: any model, this
app's or an uploaded one, fed as model_io says), the saved models (store) and a run's settings as a link
(share_links).
"""

from core.model.config import PRESETS, TrainConfig, default_model_name, describe, parse_units, preset
from core.model.network import build_model
from core.model.predict import (
    ModelIO,
    declare_io,
    model_io,
    predict_canvas_json,
    predict_drawing,
    predict_logits,
    predict_proba,
    softmax,
)
from core.model.share_links import from_query, to_query
from core.model.store import ModelInfo, ModelStore, StoreError

__all__ = [
    "PRESETS", "ModelIO", "ModelInfo", "ModelStore", "StoreError", "TrainConfig", "build_model", "declare_io",
    "default_model_name", "describe", "from_query", "model_io", "parse_units", "predict_canvas_json", "predict_drawing",
    "predict_logits",
    "predict_proba", "preset", "softmax", "to_query",
]
