"""How good a model is and why it answers as it does: every accuracy (accuracy), the per-class report and its
mistakes (evaluate), and what happens inside the network (explain).
"""

from core.evaluation.evaluate import Evaluation, confusion_matrix, evaluate, misclassified, precision_recall
from core.evaluation.explain import activations, embed, first_layer_weights, saliency
from core.evaluation.metrics import accuracy, drawn_accuracy, evaluate_accuracy, train_accuracy

__all__ = [
    "Evaluation", "accuracy", "activations", "confusion_matrix", "drawn_accuracy", "embed", "evaluate",
    "evaluate_accuracy", "first_layer_weights", "misclassified", "precision_recall", "saliency", "train_accuracy",
]
