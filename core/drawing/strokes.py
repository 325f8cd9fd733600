"""Pen strokes -> the pixels they make, as the browser drew them.

The Draw page's canvas sends strokes, not pixels: ``rasterize_strokes`` draws them back into the
280x280 frame that ``canvas_to_mnist`` reads.
"""

from __future__ import annotations

import math
import reprlib
from typing import Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw

from core.drawing.preprocess import CANVAS_SIZE

# Bounds on what a browser may send, checked before any drawing: the strokes come from any client, and PIL draws
# while holding the interpreter every session shares. A stroke 1e7 pixels wide took 113 s there (issue 22); within
# these bounds the costliest drawing, MAX_POINTS points of the widest pen zigzagging between far corners, takes
# 0.06 s (AMD EPYC, 2 cores). The pad sends a point per pixel or two of pen travel: a digit is a few hundred.
MAX_POINTS = 5000  # x, y pairs in all the strokes together
MAX_REACH = 10  # coordinates lie within this many canvas sizes of the canvas: a pen dragged off the pad keeps going


def rasterize_strokes(strokes: Sequence[Mapping], size: int = CANVAS_SIZE) -> np.ndarray:
    """Pen strokes -> the (size, size) uint8 drawing they make: white ink (255) on black (0).

    Each stroke is a dict as the Draw page's canvas sends it:
    ``{"width": pen width in pixels, "points": [x0, y0, x1, y1, ...]}``, the pen's
    path in canvas pixels (x right, y down), drawn as the browser draws it: a line
    of that width with round ends and round corners. One point is a dot.
    """
    if size < 1:
        raise ValueError(f"size must be at least 1 pixel, got {size}")
    if not isinstance(strokes, Sequence):
        raise ValueError(f"strokes must be a list of strokes, got {type(strokes).__name__}")
    checked, points_seen = [], 0
    for index, stroke in enumerate(strokes):  # every stroke checked before anything is drawn
        if points_seen >= MAX_POINTS:
            raise ValueError(f"strokes hold more than {MAX_POINTS:,} points; press Clear and draw again")
        width, points = _checked_stroke(stroke, index, size, MAX_POINTS - points_seen)
        checked.append((width, points))
        points_seen += len(points)
    canvas = Image.new("L", (size, size), 0)
    pen = ImageDraw.Draw(canvas)
    for width, points in checked:
        # The browser has pixel (i, j)'s centre at (i + 0.5, j + 0.5), PIL at (i, j).
        points = [(x - 0.5, y - 0.5) for x, y in points]
        if len(points) > 1:
            pen.line(points, fill=255, width=max(1, round(width)))
        # A dot on every point rounds the ends and corners, as the browser's lineCap and lineJoin "round";
        # on the pad's strokes (a point every pixel or two) 7x faster than PIL's joint="curve" (0.7 vs 5 ms).
        reach = max(0.0, width / 2 - 0.5)  # from a dot's centre to the centres of its outermost pixels
        for x, y in points:
            pen.ellipse([x - reach, y - reach, x + reach, y + reach], fill=255)
    return np.asarray(canvas)


def _checked_stroke(stroke: Mapping, index: int, size: int,
                    points_left: int) -> tuple[float, list[tuple[float, float]]]:
    """(width, [(x, y), ...]) of one stroke dict, or a ValueError saying what is wrong with stroke ``index``:
    a width above ``size`` (wider than the canvas), more than ``points_left`` points, or a point farther than
    MAX_REACH canvas sizes from the canvas. Lengths are checked before any value is looked at."""
    if not isinstance(stroke, Mapping) or "width" not in stroke or "points" not in stroke:
        raise ValueError(f"stroke {index} must be a dict with 'width' and 'points', got {type(stroke).__name__}")
    width, flat = stroke["width"], stroke["points"]
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not 0 < width <= size:
        raise ValueError(f"stroke {index}: 'width' must be a positive number of pixels, at most the canvas's "
                         f"{size}, got {reprlib.repr(width)}")
    if not isinstance(flat, Sequence) or isinstance(flat, (str, bytes)) or len(flat) < 2 or len(flat) % 2:
        raise ValueError(f"stroke {index}: 'points' must be x, y pairs of finite numbers [x0, y0, x1, y1, ...], "
                         f"got {reprlib.repr(flat)}")
    if len(flat) // 2 > points_left:
        raise ValueError(f"stroke {index}: the strokes hold more than {MAX_POINTS:,} points; press Clear and "
                         "draw again")
    reach = MAX_REACH * size
    if not all(isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
               and -reach <= value <= size + reach for value in flat):
        raise ValueError(f"stroke {index}: 'points' must be x, y pairs of finite numbers [x0, y0, x1, y1, ...] "
                         f"within {reach:,} pixels of the {size}-pixel canvas, got {reprlib.repr(flat)}")
    return float(width), list(zip(flat[0::2], flat[1::2]))
