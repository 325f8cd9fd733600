"""Drawings: a drawn digit made into MNIST's 28x28 (preprocess), the canvas's strokes into pixels (strokes), and MNIST's
test digits redrawn as a person draws them, to measure how well a model reads drawings (synthetic).

Above core.data; below everything that needs a model.
"""

from core.drawing.preprocess import CANVAS_SIZE, canvas_to_mnist, ink_map, naive_resize
from core.drawing.strokes import canvas_json, canvas_json_strokes, canvas_json_to_mnist, rasterize_strokes
from core.drawing.synthetic import draw_digits, drawn_set, drawn_test_set

__all__ = ["CANVAS_SIZE", "canvas_json", "canvas_json_strokes", "canvas_json_to_mnist", "canvas_to_mnist",
           "draw_digits", "drawn_set", "drawn_test_set", "ink_map", "naive_resize", "rasterize_strokes"]
