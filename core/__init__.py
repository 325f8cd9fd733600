"""MNIST classroom engine: data, models, training, preprocessing, prediction, model store.

Plain Python and Keras; importing it does not import TensorFlow or Streamlit.
"""

from core.data import DataError, MnistData, flatten_images, load_mnist, normalize_images, one_hot
from core.drawn_digits import draw_digits, drawn_accuracy
from core.evaluate import Evaluation, confusion_matrix, evaluate, misclassified, precision_recall
from core.explain import activations, embed, first_layer_weights, saliency
from core.handwriting import ClassDigits, ClassDigitsFull, ClassSet, with_class_digits
from core.models import PRESETS, TrainConfig, build_model, describe, preset
from core.predict import predict_drawing, predict_proba
from core.preprocess import canvas_to_mnist, naive_resize
from core.store import ModelInfo, ModelStore, StoreError
from core.training import EpochRecord, Progress, RunState, TrainingDiverged, TrainingJob, TrainingResult, train

__all__ = [
    "DataError", "MnistData", "flatten_images", "load_mnist", "normalize_images", "one_hot",
    "draw_digits", "drawn_accuracy",
    "Evaluation", "confusion_matrix", "evaluate", "misclassified", "precision_recall",
    "activations", "embed", "first_layer_weights", "saliency",
    "ClassDigits", "ClassDigitsFull", "ClassSet", "with_class_digits",
    "PRESETS", "TrainConfig", "build_model", "describe", "preset",
    "predict_drawing", "predict_proba",
    "canvas_to_mnist", "naive_resize",
    "ModelInfo", "ModelStore", "StoreError",
    "EpochRecord", "Progress", "RunState", "TrainingDiverged", "TrainingJob", "TrainingResult", "train",
]
