"""Pen strokes -> the pixels they make, as the browser drew them.

The Draw page's canvas (streamlit-drawable-canvas, Fabric.js 7) sends its drawing as Fabric's JSON: one
``Path`` object per stroke. ``canvas_json_strokes`` reads the strokes out of it, ``rasterize_strokes`` draws
them back into the 280x280 frame that ``canvas_to_mnist`` reads, and ``canvas_json_to_mnist`` does all three:
the one way from what the canvas sends to the 28x28 digit a model reads. ``canvas_json`` is the inverse of
``canvas_json_strokes``: the JSON the canvas would send for given strokes (for benchmarks and tests).

What a browser sends is checked before any drawing work: anything else than freehand strokes, a number that
is not finite or lies far off the canvas, a pen wider than the canvas, more than MAX_OBJECTS strokes or
MAX_POINTS points is a ValueError that says what is wrong, so time and memory stay bounded.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw

from core.drawing.preprocess import CANVAS_SIZE, canvas_to_mnist

# A digit takes a few strokes of 50-300 points each (Fabric's pencil, mouse or finger, a point every 2 pixels
# along a curve); far more is no digit. These bound the work: the worst 5,000 points (canvas-wide pieces of a
# canvas-wide pen, stretched) take 0.5 s, a real digit 2-5 ms (AMD EPYC, 2 cores).
MAX_OBJECTS = 200
MAX_POINTS = 5_000
# How far off a canvas of side ``size`` a point may lie, in canvas sides: a pen dragged outside the canvas keeps
# drawing (Fabric follows it over the whole window), and beyond this PIL's integer coordinates would overflow.
REACH = 10
MAX_SCALE = 50.0  # Fabric objects stretched further than this are no drawing from the canvas
MAX_SKEW = 80.0  # degrees; tan(90) is infinite
# Fabric's path commands after its makePathSimpler (what it sends), with how many numbers each takes.
PATH_COMMANDS = {"M": 2, "L": 2, "Q": 4, "C": 6, "Z": 0}
MAX_CURVE_STEPS = 16  # a Q or C segment becomes at most this many straight pieces, one per CURVE_STEP pixels
CURVE_STEP = 2.0
# Fabric's origins: the fraction of the object's box from its centre (fabric's resolveOrigin).
ORIGINS_X = {"left": -0.5, "center": 0.0, "right": 0.5}
ORIGINS_Y = {"top": -0.5, "center": 0.0, "bottom": 0.5}


def canvas_json_to_mnist(drawing: Mapping | None, size: int = CANVAS_SIZE) -> np.ndarray | None:
    """The canvas's Fabric JSON (``st_canvas(...).json_data``) -> the (28, 28) float32 digit, or None if blank.

    Raises ValueError, with what is wrong, for anything the canvas could not have sent.
    """
    return canvas_to_mnist(rasterize_strokes(canvas_json_strokes(drawing, size), size))


def rasterize_strokes(strokes: Sequence[Mapping], size: int = CANVAS_SIZE) -> np.ndarray:
    """Pen strokes -> the (size, size) uint8 drawing they make: white ink (255) on black (0).

    Each stroke is a dict ``{"width": pen width in pixels, "points": [x0, y0, x1, y1, ...]}``, the pen's
    path in canvas pixels (x right, y down), drawn as the browser draws it: a line of that width with round
    ends and round corners. One point is a dot. An optional ``"pen": [[a, c], [b, d]]`` stretches the round
    pen into the ellipse that matrix makes of it (a Fabric object scaled more one way than the other).
    Every stroke is checked before any is drawn: a pen wider than the canvas, a point beyond REACH canvases
    or more than MAX_POINTS points is a ValueError.
    """
    if size < 1:
        raise ValueError(f"size must be at least 1 pixel, got {size}")
    checked, points_left = [], MAX_POINTS
    for index, stroke in enumerate(strokes):
        width, points, stretch = _checked_stroke(stroke, index, size)
        points_left -= len(points)
        if points_left < 0:
            raise ValueError(f"the strokes have more than {MAX_POINTS:,} points; draw the digit with fewer")
        checked.append((width, points, stretch))
    canvas = Image.new("L", (size, size), 0)
    pen = ImageDraw.Draw(canvas)
    for width, points, stretch in checked:
        # The browser has pixel (i, j)'s centre at (i + 0.5, j + 0.5), PIL at (i, j).
        points = [(x - 0.5, y - 0.5) for x, y in points]
        if stretch is not None:
            _draw_stretched(pen, points, width, stretch)
            continue
        if len(points) > 1:
            pen.line(points, fill=255, width=max(1, round(width)))
        # A dot on every point rounds the ends and corners, as the browser's lineCap and lineJoin "round";
        # on the pad's strokes (a point every pixel or two) 7x faster than PIL's joint="curve" (0.7 vs 5 ms).
        reach = max(0.0, width / 2 - 0.5)  # from a dot's centre to the centres of its outermost pixels
        for x, y in points:
            pen.ellipse([x - reach, y - reach, x + reach, y + reach], fill=255)
    return np.asarray(canvas)


_ROUND = np.stack([np.cos(np.linspace(0, 2 * np.pi, 24, endpoint=False)),
                   np.sin(np.linspace(0, 2 * np.pi, 24, endpoint=False))])  # (2, 24): the round pen's outline


def _draw_stretched(pen: ImageDraw.ImageDraw, points: list[tuple[float, float]], width: float,
                    stretch: np.ndarray) -> None:
    """A stroke of a round pen ``width`` across, stretched by the 2x2 matrix ``stretch``: its ellipse at every
    point, and between two points the band the ellipse sweeps, as wide as the ellipse across that piece."""
    outline = (stretch @ _ROUND * (width / 2)).T  # (24, 2)
    for x, y in points:
        pen.polygon([(x + dx, y + dy) for dx, dy in outline.tolist()], fill=255)
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        normal = np.array([y0 - y1, x1 - x0])
        across = stretch.T @ normal
        if not across.any():
            continue
        dx, dy = (stretch @ across * (width / 2 / float(np.hypot(*across)))).tolist()  # to the ellipse's edge
        pen.polygon([(x0 + dx, y0 + dy), (x1 + dx, y1 + dy), (x1 - dx, y1 - dy), (x0 - dx, y0 - dy)], fill=255)


def _checked_stroke(stroke: Mapping, index: int, size: int) -> tuple[float, list, np.ndarray | None]:
    """(width, [(x, y), ...], the pen's 2x2 stretch or None) of one stroke dict, or a ValueError saying what is
    wrong with stroke ``index``."""
    if not isinstance(stroke, Mapping) or "width" not in stroke or "points" not in stroke:
        raise ValueError(f"stroke {index} must be a dict with 'width' and 'points', got {stroke!r:.80}")
    width, flat, stretch = stroke["width"], stroke["points"], stroke.get("pen")
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not 0 < width <= size:
        raise ValueError(f"stroke {index}: 'width' must be a pen width from 0 to the canvas's {size} pixels, "
                         f"got {width!r}")
    if stretch is not None:
        stretch = np.asarray(stretch, dtype=np.float64) if _is_matrix(stretch) else None
        widest = width * float(np.linalg.norm(stretch, 2)) if stretch is not None else math.nan
        if not widest <= size:  # False for NaN too
            raise ValueError(f"stroke {index}: 'pen' must be a 2x2 matrix of numbers that keeps the pen within "
                             f"the canvas's {size} pixels, got {stroke.get('pen')!r:.80}")
    if not isinstance(flat, Sequence) or isinstance(flat, str) or len(flat) < 2 or len(flat) % 2:
        raise ValueError(f"stroke {index}: 'points' must be x, y pairs [x0, y0, x1, y1, ...], got {flat!r:.80}")
    if len(flat) > 2 * MAX_POINTS:
        raise ValueError(f"stroke {index} has more than {MAX_POINTS:,} points; draw the digit with fewer")
    reach = REACH * size
    if not all(_is_number(value) and -reach <= value <= reach for value in flat):  # False for NaN too
        raise ValueError(f"stroke {index}: 'points' must be numbers within {reach:,} pixels of the canvas, "
                         f"got {flat!r:.80}")
    return float(width), list(zip(flat[0::2], flat[1::2])), stretch


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_matrix(value) -> bool:
    """Whether ``value`` is [[a, c], [b, d]] of finite numbers."""
    return (isinstance(value, Sequence) and len(value) == 2
            and all(isinstance(row, Sequence) and len(row) == 2 and all(_is_number(n) and math.isfinite(n) for n in row)
                    for row in value))


def canvas_json_strokes(drawing: Mapping | None, size: int = CANVAS_SIZE) -> list[dict]:
    """The strokes of the canvas's Fabric JSON, in ``rasterize_strokes``' form, in canvas pixels.

    Each Fabric ``Path`` gives one stroke per sub-path: its commands (M, L, Q, C, Z; curves as straight
    pieces) put through the object's transform as Fabric renders it (path offset, origin, left/top, angle,
    scale, flip, skew), its width the stroke width times the object's scale. None or no objects: no strokes.
    Raises ValueError for anything but Fabric paths, and for numbers out of bounds, before any drawing work.
    """
    if drawing is None:
        return []
    if not isinstance(drawing, Mapping):
        raise ValueError(f"the drawing must be the canvas's JSON object, got {type(drawing).__name__}")
    objects = drawing.get("objects", [])
    if not isinstance(objects, list):
        raise ValueError(f"the drawing's 'objects' must be a list, got {type(objects).__name__}")
    if len(objects) > MAX_OBJECTS:
        raise ValueError(f"the drawing has {len(objects):,} strokes; at most {MAX_OBJECTS} can be read")
    strokes, budget = [], [MAX_POINTS]  # the points the drawing may still have, shared by every object
    for index, item in enumerate(objects):
        strokes += _path_strokes(item, index, size, budget)
    return strokes


def _path_strokes(item, index: int, size: int, budget: list[int]) -> list[dict]:
    """One Fabric Path object -> its strokes."""
    where = f"stroke {index}"
    if not isinstance(item, Mapping):
        raise ValueError(f"{where} must be a Fabric object, got {type(item).__name__}")
    kind = item.get("type")
    if kind not in ("Path", "path"):
        raise ValueError(f"object {index} is a {str(kind)[:40]!r}; only freehand strokes (Fabric's 'Path') can be read")
    if item.get("visible") is False:  # Fabric does not draw it
        return []
    reach = REACH * size
    width = _number(item, "strokeWidth", 1.0, 0.0, size, where, open_low=True)
    anchor = (_number(item, "left", 0.0, -reach, reach, where), _number(item, "top", 0.0, -reach, reach, where))
    scale = (_number(item, "scaleX", 1.0, 0.0, MAX_SCALE, where, open_low=True),
             _number(item, "scaleY", 1.0, 0.0, MAX_SCALE, where, open_low=True))
    angle = math.radians(_number(item, "angle", 0.0, -3600.0, 3600.0, where))
    skew = tuple(math.tan(math.radians(_number(item, name, 0.0, -MAX_SKEW, MAX_SKEW, where)))
                 for name in ("skewX", "skewY"))
    origin = (_origin(item.get("originX", "left"), ORIGINS_X, f"{where}: 'originX'"),
              _origin(item.get("originY", "top"), ORIGINS_Y, f"{where}: 'originY'"))
    flip = tuple(-1.0 if item.get(name) is True else 1.0 for name in ("flipX", "flipY"))
    uniform = item.get("strokeUniform") is True  # the stroke keeps its width whatever the scale
    commands = _checked_commands(item.get("path"), where, reach, budget)
    bounds = _fabric_bounds(commands)
    if bounds is None:
        return []  # nothing drawn: only moves of the pen

    # Fabric draws the path around the centre of its box (pathOffset) through the matrix
    # translate(centre) . rotate(angle) . scale(+-scaleX, +-scaleY) . skewX(skewX) . skewY(skewY),
    # and left/top place the origin point of the object's box (the path's box plus the stroke).
    box_left, box_top, box_width, box_height = bounds
    path_offset = np.array([box_left + box_width / 2, box_top + box_height / 2])
    skews = np.array([[1.0, skew[0]], [0.0, 1.0]]) @ np.array([[1.0, 0.0], [skew[1], 1.0]])
    dimensions = np.diag(scale) @ skews  # 2x2, as Fabric's _getTransformedDimensions (no flips)
    half_box = (np.array([box_width, box_height]) + (0.0 if uniform else width)) / 2
    corners = (np.array([[-1, -1], [1, -1], [-1, 1], [1, 1]]) * half_box) @ dimensions.T  # (4, 2)
    extent = corners.max(axis=0) - corners.min(axis=0) + (width if uniform else 0.0)
    turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    centre = np.array(anchor) - turn @ (np.array(origin) * extent)
    matrix = turn @ np.diag(np.array(flip) * scale) @ skews  # 2x2: path -> canvas, about the centre
    (a, c), (b, d) = matrix.tolist()
    e, f = (centre - matrix @ path_offset).tolist()
    lines = _polylines(commands, lambda x, y: (a * x + c * y + e, b * x + d * y + f), budget)
    if uniform:
        return [{"width": width, "points": line} for line in lines]
    stretch = math.sqrt(abs(a * d - b * c))
    if math.isclose(a, d, abs_tol=1e-9 * stretch) and math.isclose(b, -c, abs_tol=1e-9 * stretch) or \
            math.isclose(a, -d, abs_tol=1e-9 * stretch) and math.isclose(b, c, abs_tol=1e-9 * stretch):
        return [{"width": width * stretch, "points": line} for line in lines]  # turned, scaled alike
    # Stretched more one way than the other: the round pen becomes an ellipse.
    return [{"width": width, "points": line, "pen": [[a, c], [b, d]]} for line in lines]


def _number(item: Mapping, key: str, default: float, low: float, high: float, where: str,
            open_low: bool = False) -> float:
    """``item[key]`` (``default`` when absent), a number from ``low`` (excluded if ``open_low``) to ``high``."""
    value = item.get(key, default)
    if not _is_number(value) or not low <= value <= high or (open_low and value == low):
        raise ValueError(f"{where}: {key!r} must be a number from {low:g} to {high:g}, got {value!r:.40}")
    return float(value)


def _origin(value, table: dict[str, float], where: str) -> float:
    """A Fabric origin ('left', 'center', ... or a fraction of the box from 0 to 1) -> its offset from the centre."""
    if isinstance(value, str) and value in table:
        return table[value]
    if _is_number(value) and 0 <= value <= 1:
        return float(value) - 0.5
    raise ValueError(f"{where} must be one of {', '.join(table)} or a fraction from 0 to 1, got {value!r:.40}")


def _checked_commands(path, where: str, reach: float, budget: list[int]) -> list[tuple]:
    """A Fabric path [["M", x, y], ["Q", x1, y1, x, y], ...] -> its commands as tuples of a letter and floats."""
    if not isinstance(path, list):
        raise ValueError(f"{where}: 'path' must be a list of commands, got {type(path).__name__}")
    if len(path) > budget[0]:
        raise ValueError(f"the drawing has more than {MAX_POINTS:,} points; press Clear and draw it with fewer")
    commands = []
    for number, command in enumerate(path):
        letter = command[0] if isinstance(command, list) and command else None
        if letter not in PATH_COMMANDS:
            raise ValueError(f"{where}: path command {number} must be one of {', '.join(PATH_COMMANDS)}, "
                             f"got {command!r:.60}")
        values = command[1:]
        if len(values) != PATH_COMMANDS[letter] or not all(_is_number(value) and -reach <= value <= reach
                                                          for value in values):  # False for NaN too
            raise ValueError(f"{where}: path command {number} ({letter}) must have {PATH_COMMANDS[letter]} numbers "
                             f"within {reach:,} pixels of the canvas, got {command!r:.60}")
        commands.append((letter, *(float(value) for value in values)))
    if commands and commands[0][0] != "M":
        raise ValueError(f"{where}: a path starts with M (where the pen went down), got {commands[0][0]}")
    return commands


def _fabric_bounds(commands: list[tuple]) -> tuple[float, float, float, float] | None:
    """(left, top, width, height) of a path as Fabric measures it (Path._calcBoundsFromPath), quirks and all:
    an L counts its sub-path's start and its end, a Q counts as the cubic with both controls at its control.
    None for a path that draws nothing (only M and Z)."""
    points, start, current = [], (0.0, 0.0), (0.0, 0.0)
    for letter, *values in commands:
        if letter == "M":
            current = start = (values[0], values[1])
        elif letter == "L":
            current = (values[0], values[1])
            points += [start, current]
        elif letter == "Q":
            points += _curve_bounds(current, values[0:2], values[0:2], values[2:4])
            current = (values[2], values[3])
        elif letter == "C":
            points += _curve_bounds(current, values[0:2], values[2:4], values[4:6])
            current = (values[4], values[5])
        else:  # Z
            current = start
    if not points:
        return None
    xs, ys = [x for x, _ in points], [y for _, y in points]
    return min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)


def _curve_bounds(p0, p1, p2, p3) -> list[tuple[float, float]]:
    """The cubic Bezier's ends and its points where x or y turns (Fabric's getBoundsOfCurve)."""
    turns = []
    for axis in (0, 1):
        a0, a1, a2, a3 = p0[axis], p1[axis], p2[axis], p3[axis]
        b, a, c = 6 * a0 - 12 * a1 + 6 * a2, -3 * a0 + 9 * a1 - 9 * a2 + 3 * a3, 3 * a1 - 3 * a0
        if abs(a) < 1e-12:
            if abs(b) >= 1e-12:
                turns.append(-c / b)
            continue
        discriminant = b * b - 4 * c * a
        if discriminant >= 0:
            root = math.sqrt(discriminant)
            turns += [(-b + root) / (2 * a), (-b - root) / (2 * a)]
    found = [_cubic_at(p0, p1, p2, p3, t) for t in turns if 0 < t < 1]
    return [tuple(p0), tuple(p3), *found]


def _cubic_at(p0, p1, p2, p3, t: float) -> tuple[float, float]:
    u = 1 - t
    return tuple(u ** 3 * p0[i] + 3 * u * u * t * p1[i] + 3 * u * t * t * p2[i] + t ** 3 * p3[i] for i in (0, 1))


def _polylines(commands: list[tuple], place, budget: list[int]) -> list[list[float]]:
    """The path's sub-paths as flat [x0, y0, x1, y1, ...] lists in canvas pixels (``place``: path -> canvas),
    each curve as straight pieces about CURVE_STEP pixels long."""
    lines: list[list[float]] = []
    start = current = (0.0, 0.0)  # in path coordinates

    def add(point: tuple[float, float]) -> None:
        budget[0] -= 1
        if budget[0] < 0:
            raise ValueError(f"the drawing has more than {MAX_POINTS:,} points; press Clear and draw it with fewer")
        lines[-1].extend(point)

    for letter, *values in commands:
        if letter == "M":
            start = current = (values[0], values[1])
            lines.append([])
            add(place(*current))
        elif letter in ("L", "Z"):
            current = (values[0], values[1]) if letter == "L" else start
            add(place(*current))
        else:  # Q or C: sampled in canvas pixels
            controls = [place(*current)] + [place(values[i], values[i + 1]) for i in range(0, len(values), 2)]
            if letter == "Q":  # the same curve as a cubic
                q0, q1, q2 = controls
                controls = [q0, tuple(q0[i] + 2 / 3 * (q1[i] - q0[i]) for i in (0, 1)),
                            tuple(q2[i] + 2 / 3 * (q1[i] - q2[i]) for i in (0, 1)), q2]
            length = sum(math.dist(controls[i], controls[i + 1]) for i in range(3))
            steps = min(MAX_CURVE_STEPS, max(1, math.ceil(length / CURVE_STEP)))
            for step in range(1, steps + 1):
                add(_cubic_at(*controls, step / steps))
            current = (values[-2], values[-1])
    return [line for line in lines if line]


def canvas_json(strokes: Sequence[Mapping]) -> dict:
    """The Fabric JSON the canvas sends for ``strokes`` (``rasterize_strokes``' form): one Path per stroke, as
    Fabric's pencil leaves it (origin at the centre of its box, left/top there, no scale). For benchmarks and
    tests that put strokes through the canvas's way in; ``canvas_json_strokes`` reads them back."""
    objects = []
    for index, stroke in enumerate(strokes):
        width, points, _ = _checked_stroke(stroke, index, CANVAS_SIZE)
        path = [["M", *points[0]]] + [["L", *point] for point in points[1:]]
        if len(points) == 1:  # a dot: Fabric's pencil gives it a tiny length
            path.append(["L", *points[0]])
        left, top, box_width, box_height = _fabric_bounds([tuple(command) for command in path])
        objects.append({"type": "Path", "originX": "center", "originY": "center", "left": left + box_width / 2,
                        "top": top + box_height / 2, "width": box_width, "height": box_height, "stroke": "#ffffff",
                        "strokeWidth": width, "strokeLineCap": "round", "strokeLineJoin": "round",
                        "scaleX": 1, "scaleY": 1, "angle": 0, "path": path})
    return {"version": "7.4.0", "objects": objects, "background": "#000000"}
