"""What the Draw page's canvas sends the server when the pen lifts: the component's state, built from pen strokes.

A student that speaks Streamlit's protocol (bench/classroom.py) draws by sending the value the Draw page's
component would send from a real browser: the component's whole state as JSON (``WidgetState.json_value``
under the component's element id), found by the element's ``component_name``:
``streamlit-drawable-canvas.streamlit_drawable_canvas`` 0.13 (Fabric.js 7.4 inside):
``{"drawing": {"raw": <the canvas as Fabric JSON>, "data": null}}`` with ``return_image_data=False``, one
Fabric ``Path`` per stroke, built here as Fabric's PencilBrush builds it (its point thinning, its smoothed
quadratic path, its bounding box). tests/test_drawing_payloads.py checks the result against what the
real canvas sent from Chromium for the same mouse strokes, byte for byte. No strokes: the canvas after its
toolbar's Reset, with no objects.

A stroke is a list of (x, y) points in canvas pixels, as the pointer went.
"""

from __future__ import annotations

import json
import math
from typing import Callable

Point = tuple[float, float]
Stroke = list[Point]

CANVAS = "streamlit-drawable-canvas.streamlit_drawable_canvas"
FABRIC_VERSION = "7.4.0"  # the Fabric.js inside streamlit-drawable-canvas 0.13.0; every object carries it
FABRIC_DIGITS = 4  # Fabric's NUM_FRACTION_DIGITS: position and size are rounded to it, path points are not
PENCIL_DECIMATE = 0.4  # PencilBrush.decimate: a point nearer than this (canvas px) to the last kept one is dropped
# Fabric's object options that streamlit-drawable-canvas asks toObject() to include, in its order.
CANVAS_LOCKS = ("lockMovementX", "lockMovementY", "lockRotation", "lockScalingX", "lockScalingY", "lockSkewingX",
                "lockSkewingY", "lockScalingFlip")


def surface_size(component_name: str, data: dict) -> tuple[int, int]:
    """(canvas side in pixels, pen width) of the canvas, from the data the page gave it."""
    _check_known(component_name)
    return int(data["canvasWidth"]), int(data["strokeWidth"])


def drawing_value(component_name: str, data: dict, strokes: list[Stroke]) -> str:
    """The JSON state the component ``component_name`` sends once ``strokes`` are drawn on a fresh canvas; no
    strokes: the state its toolbar's Reset sends.

    data : what the page passed the component (its ``BidiComponent`` data, decoded), for the pen and colours.
    """
    _check_known(component_name)
    if any(len(stroke) < 2 for stroke in strokes):
        raise ValueError(f"each stroke needs at least 2 points, got {strokes!r}")
    return json.dumps(BUILDERS[component_name](data, strokes), separators=(",", ":"))


def _check_known(component_name: str) -> None:
    if component_name not in BUILDERS:
        raise ValueError(f"component_name {component_name!r} is no drawing surface this student knows "
                         f"(known: {', '.join(BUILDERS)})")


def _canvas_state(data: dict, strokes: list[Stroke]) -> dict:
    """streamlit-drawable-canvas's state with return_image_data=False: the canvas's Fabric JSON, no image."""
    raw: dict = {"version": FABRIC_VERSION,
                 "objects": [_fabric_path(stroke, data["strokeWidth"], data["strokeColor"]) for stroke in strokes]}
    if data.get("backgroundColor"):
        raw["background"] = data["backgroundColor"]
    return {"drawing": {"raw": raw, "data": None}}


def _fabric_path(stroke: Stroke, width: float, colour: str) -> dict:
    """One PencilBrush stroke as Fabric 7.4's Path.toObject() gives it (origin at the path's centre)."""
    path = _smooth_path(_decimate(stroke), width / 1000)
    left, top, right, bottom = _path_bounds(path)
    box_width, box_height = right - left, bottom - top
    return {
        **{lock: False for lock in CANVAS_LOCKS},
        "type": "Path", "version": FABRIC_VERSION, "originX": "center", "originY": "center",
        "left": _js_round(left + box_width / 2), "top": _js_round(top + box_height / 2),
        "width": _js_round(box_width), "height": _js_round(box_height),
        "fill": None, "stroke": colour, "strokeWidth": width, "strokeDashArray": None, "strokeLineCap": "round",
        "strokeDashOffset": 0, "strokeLineJoin": "round", "strokeUniform": False, "strokeMiterLimit": 10,
        "scaleX": 1, "scaleY": 1, "angle": 0, "flipX": False, "flipY": False, "opacity": 1, "shadow": None,
        "visible": True, "backgroundColor": "", "fillRule": "nonzero", "paintFirst": "fill",
        "globalCompositeOperation": "source-over", "skewX": 0, "skewY": 0,
        "path": [[command, *(_js_number(value) for value in values)] for command, *values in path],
    }


def _decimate(points: Stroke) -> Stroke:
    """PencilBrush.decimatePoints: keep the first and last points, and of the others each one at least
    PENCIL_DECIMATE from the last kept. As in Fabric, the second-to-last point is never considered (its loop
    stops one early), so it is always dropped."""
    if len(points) <= 2:
        return list(points)
    kept = [points[0]]
    for point in points[1:-2]:
        if (kept[-1][0] - point[0]) ** 2 + (kept[-1][1] - point[1]) ** 2 >= PENCIL_DECIMATE ** 2:
            kept.append(point)
    return kept + [points[-1]]


def _smooth_path(points: Stroke, nudge: float) -> list[tuple]:
    """Fabric's getSmoothPathFromPoints: a quadratic curve through the midpoints, its ends nudged outwards."""
    first, second = points[0], points[1]
    x_sign = y_sign = 0
    if len(points) > 2:
        x_sign, y_sign = _sign(points[2][0] - second[0]), _sign(points[2][1] - second[1])
    path: list[tuple] = [("M", first[0] - x_sign * nudge, first[1] - y_sign * nudge)]
    current, following = first, second
    for index in range(1, len(points)):
        if current != following:
            path.append(("Q", current[0], current[1], (current[0] + following[0]) / 2,
                         (current[1] + following[1]) / 2))
        current = points[index]
        if index + 1 < len(points):
            following = points[index + 1]
    if len(points) > 2:
        before = points[-2]
        x_sign, y_sign = _sign(current[0] - before[0]), _sign(current[1] - before[1])
    path.append(("L", current[0] + x_sign * nudge, current[1] + y_sign * nudge))
    return path


def _path_bounds(path: list[tuple]) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of a path as Fabric's Path._calcBoundsFromPath measures it: a quadratic
    segment as a cubic with both control points on its own control point, a line from the path's start."""
    start = position = (path[0][1], path[0][2])
    points: list[Point] = []
    for command, *values in path[1:]:
        if command == "L":
            points += [start, (values[0], values[1])]
        else:  # "Q"
            points += _cubic_extremes(position, (values[0], values[1]), (values[0], values[1]), (values[2], values[3]))
        position = (values[-2], values[-1])
    xs, ys = [point[0] for point in points] or [start[0]], [point[1] for point in points] or [start[1]]
    return min(xs), min(ys), max(xs), max(ys)


def _cubic_extremes(p0: Point, p1: Point, p2: Point, p3: Point) -> list[Point]:
    """The ends of a cubic Bezier and its points where x or y turns (Fabric's getBoundsOfCurve)."""
    turns: list[float] = []
    for axis in (0, 1):
        b = 6 * p0[axis] - 12 * p1[axis] + 6 * p2[axis]
        a = -3 * p0[axis] + 9 * p1[axis] - 9 * p2[axis] + 3 * p3[axis]
        c = 3 * p1[axis] - 3 * p0[axis]
        if abs(a) < 1e-12:
            if abs(b) >= 1e-12 and 0 < -c / b < 1:
                turns.append(-c / b)
            continue
        discriminant = b * b - 4 * c * a
        if discriminant < 0:
            continue
        for t in ((-b + math.sqrt(discriminant)) / (2 * a), (-b - math.sqrt(discriminant)) / (2 * a)):
            if 0 < t < 1:
                turns.append(t)

    def at(t: float) -> Point:
        u = 1 - t
        return tuple(u ** 3 * p0[axis] + 3 * u * u * t * p1[axis] + 3 * u * t * t * p2[axis] + t ** 3 * p3[axis]
                     for axis in (0, 1))

    return [at(t) for t in turns] + [p0, p3]


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


def _js_round(value: float) -> float | int:
    """parseFloat(value.toFixed(FABRIC_DIGITS)), as JSON.stringify writes it (2.0 as 2)."""
    return _js_number(float(f"{value:.{FABRIC_DIGITS}f}"))


def _js_number(value: float) -> float | int:
    """A number as JavaScript's JSON.stringify writes it: a whole number without ".0"."""
    return int(value) if float(value).is_integer() else value


BUILDERS: dict[str, Callable[[dict, list[Stroke]], dict]] = {CANVAS: _canvas_state}
