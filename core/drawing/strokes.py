"""Pen strokes -> the pixels they make, as the browser drew them.

The Draw page's canvas sends strokes, not pixels: ``rasterize_strokes`` draws them back into the
280x280 frame that ``canvas_to_mnist`` reads.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw

from core.drawing.preprocess import CANVAS_SIZE


def rasterize_strokes(strokes: Sequence[Mapping], size: int = CANVAS_SIZE) -> np.ndarray:
    """Pen strokes -> the (size, size) uint8 drawing they make: white ink (255) on black (0).

    Each stroke is a dict as the Draw page's canvas sends it:
    ``{"width": pen width in pixels, "points": [x0, y0, x1, y1, ...]}``, the pen's
    path in canvas pixels (x right, y down), drawn as the browser draws it: a line
    of that width with round ends and round corners. One point is a dot.
    """
    if size < 1:
        raise ValueError(f"size must be at least 1 pixel, got {size}")
    canvas = Image.new("L", (size, size), 0)
    pen = ImageDraw.Draw(canvas)
    for index, stroke in enumerate(strokes):
        width, points = _checked_stroke(stroke, index)
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


def _checked_stroke(stroke: Mapping, index: int) -> tuple[float, list[tuple[float, float]]]:
    """(width, [(x, y), ...]) of one stroke dict, or a ValueError saying what is wrong with stroke ``index``."""
    if not isinstance(stroke, Mapping) or "width" not in stroke or "points" not in stroke:
        raise ValueError(f"stroke {index} must be a dict with 'width' and 'points', got {stroke!r:.80}")
    width, flat = stroke["width"], stroke["points"]
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not 0 < width < math.inf:
        raise ValueError(f"stroke {index}: 'width' must be a positive number of pixels, got {width!r}")
    if (not isinstance(flat, Sequence) or len(flat) < 2 or len(flat) % 2
            or not all(isinstance(value, (int, float)) and math.isfinite(value) for value in flat)):
        raise ValueError(f"stroke {index}: 'points' must be x, y pairs of finite numbers [x0, y0, x1, y1, ...], "
                         f"got {flat!r:.80}")
    return float(width), list(zip(flat[0::2], flat[1::2]))
