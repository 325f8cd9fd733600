"""Drawn digits: MNIST test digits redrawn on a 280x280 canvas the way a person draws them.

Each test digit becomes a drawing: stroked with a round pen of a random width
(6 to 28 canvas pixels, thin to thick), at a random size (ink a third of the
canvas height to all of it) and a random position, on one of three
backgrounds: white on black, black on white, or a coloured pen on a
transparent canvas. The pen follows the digit's centre line (its skeleton at
4x resolution), and the digit's own shape thinned or grown to the pen's width
is added, so bold parts that thinning would erase (a filled-in loop, the short
middle stroke of a 3) are kept. Seeded: the same seed draws the same digits the
same way.

``draw_digits`` gives the drawings one at a time, and ``drawn_test_set`` reads them
through both pipelines: ``canvas_to_mnist``, as the Draw page reads a student's
digit, and the naive resize. ``drawn_accuracy`` puts LEADERBOARD_DIGITS of them
through a model: the leaderboard's second figure (core.classroom).
bench/drawn_digits.py draws more of them and compares the pipelines.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal, get_args

import numpy as np
from PIL import Image, ImageDraw

from core.data.mnist import IMAGE_SIDE, MnistData, cache_folder
from core.drawing.preprocess import CANVAS_SIZE, canvas_to_mnist, crop_to_ink, ink_map, naive_resize
from core.drawing.strokes import canvas_json, canvas_json_to_mnist

# A few hundred drawings: drawing them is the cost (the centre lines and distance transforms, about
# 16 ms a digit), 4.7 s for 300, paid once per process; each model then costs one predict, 0.02 s for
# the Lecture network (Intel Xeon, Sapphire Rapids, 2 cores, AVX-512). At 95% the figure is good to
# about 1.3 points (the binomial standard error at 300 digits): enough to rank a class.
LEADERBOARD_DIGITS = 300
LEADERBOARD_SEED = 0  # the same drawings for every model, so the class compares like with like
HEIGHT_RANGE = (1 / 3, 1.0)  # ink height as a fraction of the canvas
PEN_RANGE = (6.0, 28.0)  # pen diameter in canvas pixels, thin to thick
# A person who sees a small digit fill up with a fat pen draws it bigger:
# the pen is at most this fraction of the digit's height.
MAX_PEN_FRACTION = 0.25
Background = Literal["white-on-black", "black-on-white", "transparent"]
BACKGROUNDS: tuple[Background, ...] = get_args(Background)
SKELETON_SCALE = 4  # the centre line is found on the digit enlarged 4x (112x112)
SKELETON_LEVEL = 0.5  # ... and thinned from the pixels above this fraction of its brightest
WIDTH_STEP = 2.5  # redrawn_strokes: a new stroke where the ink's width changes by more (up to 97 strokes a digit)


@dataclass(frozen=True)
class Stroke:
    """How one digit was drawn: ink height and pen width in canvas pixels, the ink's top-left corner, background."""

    height: int
    pen: float
    top: int
    left: int
    background: Background


def skeleton(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning: (H, W) bool shape -> (H, W) bool centre line, one pixel wide."""
    image = np.pad(mask.astype(np.uint8), 1)
    while True:
        changed = False
        for first_pass in (True, False):
            # The 8 neighbours P2..P9, clockwise from north, as shifted views.
            p = [image[:-2, 1:-1], image[:-2, 2:], image[1:-1, 2:], image[2:, 2:],
                 image[2:, 1:-1], image[2:, :-2], image[1:-1, :-2], image[:-2, :-2]]
            neighbours = sum(q.astype(np.int32) for q in p)
            transitions = sum(((p[i] == 0) & (p[(i + 1) % 8] == 1)).astype(np.int32) for i in range(8))
            if first_pass:
                keeps = (p[0] * p[2] * p[4] == 0) & (p[2] * p[4] * p[6] == 0)
            else:
                keeps = (p[0] * p[2] * p[6] == 0) & (p[0] * p[4] * p[6] == 0)
            remove = (image[1:-1, 1:-1] == 1) & (neighbours >= 2) & (neighbours <= 6) & (transitions == 1) & keeps
            if remove.any():
                image[1:-1, 1:-1][remove] = 0
                changed = True
        if not changed:
            return image[1:-1, 1:-1].astype(bool)


def centre_line(line: np.ndarray) -> np.ndarray:
    """An (H, W) bool skeleton -> (S, 2, 2) segments (row, col) joining its neighbouring pixels."""
    points = np.argwhere(line)
    segments = [np.stack([points, points], axis=1)]  # lone pixels become dots
    for step in ((0, 1), (1, -1), (1, 0), (1, 1)):  # each neighbour pair once
        ahead = points + step
        inside = (ahead >= 0).all(axis=1) & (ahead < np.array(line.shape)).all(axis=1)
        linked = np.zeros(len(points), bool)
        linked[inside] = line[ahead[inside, 0], ahead[inside, 1]]
        segments.append(np.stack([points[linked], ahead[linked]], axis=1))
    return np.concatenate(segments).astype(np.float64)


def draw(digit: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, Stroke]:
    """A (28, 28) uint8 MNIST digit -> a (280, 280, 4) uint8 RGBA drawing of it, and how it was drawn."""
    from scipy import ndimage  # here, not at the top: it adds about 0.5 s to ``import core`` and the app's start

    side = digit.shape[0] * SKELETON_SCALE
    enlarged = np.asarray(Image.fromarray(digit.astype(np.float32), mode="F").resize((side, side), Image.BILINEAR))
    strokes = enlarged > SKELETON_LEVEL * enlarged.max()
    line = skeleton(strokes)
    # The MNIST writer's pen, in 4x pixels: twice the distance from the centre line to the
    # stroke's edge, the median along the line, so a filled-in loop does not count as a wide pen.
    natural = 2 * float(np.median(ndimage.distance_transform_edt(strokes)[line]))
    rows = np.flatnonzero(strokes.any(axis=1))
    cols = np.flatnonzero(strokes.any(axis=0))
    # The centre line lies about half the natural width inside the strokes' box.
    origin = np.array([rows[0], cols[0]]) + natural / 2
    extent = np.maximum(np.array([rows[-1] - rows[0], cols[-1] - cols[0]]) + 1 - natural, 1.0)
    height = rng.uniform(*HEIGHT_RANGE) * CANVAS_SIZE
    pen = min(rng.uniform(*PEN_RANGE), MAX_PEN_FRACTION * height)
    # The pen adds half its width on every side of the centre line.
    scale = min((height - pen) / extent[0], (CANVAS_SIZE - pen) / extent[1])
    ink = crop_to_ink(_pen_ink(enlarged, line, origin, scale, natural * scale, pen, extent * scale + pen))
    if max(ink.shape) > CANVAS_SIZE:  # a hair too big for the canvas: shrink it to fit
        fit = CANVAS_SIZE / max(ink.shape)
        size = (max(1, int(ink.shape[1] * fit)), max(1, int(ink.shape[0] * fit)))
        ink = np.asarray(Image.fromarray(ink.astype(np.float32), mode="F").resize(size, Image.Resampling.BOX))
    top, left = (int(n) for n in rng.integers(0, CANVAS_SIZE - np.array(ink.shape) + 1))
    background = BACKGROUNDS[rng.integers(len(BACKGROUNDS))]
    page = np.zeros((CANVAS_SIZE, CANVAS_SIZE), np.float32)
    page[top: top + ink.shape[0], left: left + ink.shape[1]] = ink
    return _compose(page, background, rng), Stroke(ink.shape[0], float(pen), top, left, background)


def _chains(line: np.ndarray) -> list[np.ndarray]:
    """An (H, W) bool skeleton -> polylines (K, 2) of (row, col) through its pixels, each followed from one end for as
    long as it goes, every link between neighbouring pixels in one of them; a pixel without neighbours is a dot."""
    on = {tuple(point) for point in np.argwhere(line).tolist()}
    # centre_line's links, less its dots and the diagonal beside a corner pixel (the way round the corner is the
    # same line): then a line is a chain of pixels, not a ladder.
    segments = [((r0, c0), (r1, c1)) for (r0, c0), (r1, c1) in centre_line(line).astype(int).tolist()
                if (r0, c0) != (r1, c1)
                and (abs(r1 - r0) + abs(c1 - c0) < 2 or ((r0, c1) not in on and (r1, c0) not in on))]
    links: dict[tuple, list[int]] = {}
    for index, (start, end) in enumerate(segments):
        links.setdefault(start, []).append(index)
        links.setdefault(end, []).append(index)
    chains = [np.array([point]) for point in sorted(on - links.keys())]
    used: set[int] = set()
    for point in sorted(links, key=lambda point: len(links[point])):  # from the lines' ends first
        while (first := next((index for index in links[point] if index not in used), None)) is not None:
            chain = [point]
            following = first
            while following is not None:
                used.add(following)
                start, end = segments[following]
                chain.append(end if start == chain[-1] else start)
                following = next((index for index in links[chain[-1]] if index not in used), None)
            chains.append(np.array(chain))
    return chains


def redrawn_strokes(drawing: np.ndarray) -> list[dict]:
    """A drawing (any background) -> pen strokes that redraw its ink, in ``rasterize_strokes``' form: along its
    centre line (the ink thinned), in pieces each as wide as the ink there (twice the distance to its edge), a new
    piece where the width changes by more than WIDTH_STEP pixels. How a person would draw it with a brush."""
    from scipy import ndimage

    ink = ink_map(drawing) > 0.5
    width = 2 * ndimage.distance_transform_edt(ink)  # (H, W): the ink's width around each of its pixels
    strokes = []
    for chain in _chains(skeleton(ink)):  # (K, 2) rows and columns
        widths = np.maximum(width[chain[:, 0], chain[:, 1]], 1.0)
        points = chain[:, ::-1] + 0.5  # x, y with the browser's pixel centres
        start = 0
        for end in range(1, len(chain) + 1):
            if end == len(chain) or abs(widths[end] - widths[start:end].mean()) > WIDTH_STEP:
                strokes.append({"width": float(widths[start:end].mean()),
                                "points": points[max(0, start - 1):end].ravel().tolist()})  # joined to the last piece
                start = end
    return strokes


def _pen_ink(enlarged, line, origin, scale, natural, pen, size) -> np.ndarray:
    """The digit drawn with a round pen ``pen`` canvas pixels wide: (rows, cols) ink in [0, 1].

    The ink is the centre line ``line`` stroked with the pen, together with the
    digit's own shape (``enlarged``, 4x) thinned or grown from its ``natural``
    width to the pen's: a pen thinner than the MNIST writer's keeps the bold
    parts (a filled-in loop, the short middle stroke of a 3) that the centre
    line alone would lose. 4x pixel p lands on (p - origin) * scale + corner;
    ``size`` is the expected (rows, cols) of the ink, drawn with a margin.
    """
    from scipy import ndimage

    margin = int(pen) + 4
    sheet = tuple(int(n) for n in np.ceil(size) + 2 * margin)  # (rows, cols)
    corner = margin + pen / 2
    centre_lines = Image.new("1", sheet[::-1], 0)
    pencil = ImageDraw.Draw(centre_lines)
    for (row0, col0), (row1, col1) in (centre_line(line) - origin) * scale + corner:
        pencil.line([(col0, row0), (col1, row1)], fill=1)
    # Ink within pen/2 of the centre line, with a one-pixel anti-aliased edge.
    line_ink = np.clip(pen / 2 + 0.5 - ndimage.distance_transform_edt(~np.asarray(centre_lines)), 0.0, 1.0)
    # The inverse map, sheet -> 4x; PIL measures both from pixel corners, hence the 0.5s.
    offset = 0.5 - (corner + 0.5) / scale
    shape = Image.fromarray(enlarged, mode="F").transform(
        sheet[::-1], Image.Transform.AFFINE,
        (1 / scale, 0, origin[1] + offset, 0, 1 / scale, origin[0] + offset), resample=Image.Resampling.BILINEAR,
    )
    inside = np.asarray(shape) > SKELETON_LEVEL * enlarged.max()
    signed = np.where(inside, ndimage.distance_transform_edt(inside) - 0.5,
                      0.5 - ndimage.distance_transform_edt(~inside))  # to the shape's edge, + inside
    shape_ink = np.clip(signed + (pen - natural) / 2 + 0.5, 0.0, 1.0)
    return np.maximum(line_ink, shape_ink)


def _compose(ink: np.ndarray, background: Background, rng: np.random.Generator) -> np.ndarray:
    """(H, W) ink in [0, 1] -> (H, W, 4) uint8 RGBA on the given background."""
    drawing = np.empty(ink.shape + (4,), np.uint8)
    level = np.round(255 * ink).astype(np.uint8)
    if background == "white-on-black":
        drawing[..., :3] = level[..., None]
        drawing[..., 3] = 255
    elif background == "black-on-white":
        drawing[..., :3] = 255 - level[..., None]
        drawing[..., 3] = 255
    else:  # a pen of some colour; untouched pixels are transparent black, as a browser canvas gives them
        drawing[..., :3] = rng.integers(0, 256, 3, dtype=np.uint8)
        drawing[..., 3] = level
        drawing[level == 0, :3] = 0
    return drawing




@dataclass(frozen=True)
class DrawnDigit:
    """One test digit as a person might draw it."""

    canvas: np.ndarray  # (280, 280, 4) uint8 RGBA, as the Draw page's pad sends it
    label: int
    source: int  # the digit's index in the images it was drawn from
    stroke: Stroke


def draw_digits(images: np.ndarray, labels: np.ndarray, count: int, seed: int = 0) -> Iterator[DrawnDigit]:
    """Draw ``count`` of ``images`` (N, 28, 28) uint8, chosen at random among those with any ink.

    labels : (N,) the digit each image shows.
    The drawings come one at a time, so 2,000 of them (300 KB each) never sit in memory together.
    The same ``seed`` gives the same digits drawn the same way. Raises ValueError when ``count`` is
    not between 1 and the number of images with ink.
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(labels) != len(images):
        raise ValueError(f"images must be (N, 28, 28) with one label each, got {images.shape} and "
                         f"{len(labels)} labels")
    inked = _inked(images)
    if not 1 <= count <= len(inked):
        raise ValueError(f"count must be from 1 to {len(inked)} (the digits with any ink), got {count}")
    return _drawings(images, labels, inked, count, seed)


def _inked(images: np.ndarray) -> np.ndarray:
    """(K,) indices of the (N, 28, 28) images with any ink: a blank one has no stroke to draw."""
    return np.flatnonzero(images.reshape(len(images), -1).max(axis=1) > 0)


def _drawings(images, labels, inked, count: int, seed: int) -> Iterator[DrawnDigit]:
    rng = np.random.default_rng(seed)
    # With every image inked (MNIST), inked[i] == i: the digits bench/drawn_digits.py always drew.
    for source in inked[rng.choice(len(inked), size=count, replace=False)]:
        canvas, stroke = draw(images[source], rng)
        yield DrawnDigit(canvas, int(labels[source]), int(source), stroke)


@dataclass(frozen=True)
class DrawnSet:
    """Drawn test digits after each pipeline; the 280x280 drawings themselves are not kept."""

    prepared: np.ndarray  # (N, 28, 28) float32: canvas_to_mnist of each drawing (zeros where it saw none)
    naive: np.ndarray  # (N, 28, 28) float32: naive_resize of each drawing
    labels: np.ndarray  # (N,) int64
    sources: np.ndarray  # (N,) index of each digit in the images it was drawn from
    strokes: list[Stroke]
    # (N, 28, 28) float32 or None: each drawing's pen strokes as the Draw page's canvas sends them (Fabric's JSON),
    # read the way that page reads them (canvas_json_to_mnist)
    from_canvas: np.ndarray | None = None


def drawn_test_set(images: np.ndarray, labels: np.ndarray, count: int, seed: int,
                   through_canvas: bool = False) -> DrawnSet:
    """Draw ``count`` of ``images`` (N, 28, 28) uint8 (``draw_digits``) and put each drawing through both
    pipelines, one at a time, so 2,000 drawings never sit in memory together; ``through_canvas``: its pen strokes
    through the canvas's way too (``DrawnSet.from_canvas``)."""
    prepared = np.zeros((count, 28, 28), np.float32)
    naive = np.zeros((count, 28, 28), np.float32)
    from_canvas = np.zeros((count, 28, 28), np.float32) if through_canvas else None
    drawn_labels, sources, strokes = [], [], []
    for index, drawn in enumerate(draw_digits(images, labels, count, seed)):
        digit = canvas_to_mnist(drawn.canvas)
        if digit is not None:  # never expected; a blank result then counts as a wrong answer
            prepared[index] = digit
        if through_canvas:  # the ink as strokes the Draw page's canvas would send, read as that page reads them
            digit = canvas_json_to_mnist(canvas_json(redrawn_strokes(drawn.canvas)))
            if digit is not None:
                from_canvas[index] = digit
        naive[index] = naive_resize(drawn.canvas)
        drawn_labels.append(drawn.label)
        sources.append(drawn.source)
        strokes.append(drawn.stroke)
    return DrawnSet(prepared, naive, np.array(drawn_labels, np.int64), np.array(sources), strokes, from_canvas)


def drawn_set(data: MnistData, count: int = LEADERBOARD_DIGITS,
              seed: int = LEADERBOARD_SEED) -> tuple[np.ndarray, np.ndarray]:
    """``count`` test digits of ``data`` drawn and read back through ``canvas_to_mnist``, drawn once per
    machine for each (test set, count, seed) and kept in ``core.data.mnist.cache_folder()``: the drawing is
    the slow part, not the model.

    Fewer digits when the test set has fewer with ink. Returns (N, 28, 28) float32 digits in [0, 1]
    (zeros where ``canvas_to_mnist`` saw none, never expected) and their (N,) int64 labels.
    """
    count = min(count, len(_inked(data.x_test)))
    if count == 0:
        return np.zeros((0, IMAGE_SIDE, IMAGE_SIDE), np.float32), np.zeros(0, np.int64)
    digest = hashlib.blake2b(np.ascontiguousarray(data.x_test).data, digest_size=16)
    digest.update(np.ascontiguousarray(data.y_test).data)
    key = (digest.hexdigest(), count, seed)
    with _sets_lock:  # a second caller waits for the first one's drawings rather than drawing them again
        if key not in _sets:
            if len(_sets) >= _SETS_KEPT:
                del _sets[next(iter(_sets))]  # the oldest
            kept = cache_folder() / f"drawn-v{DRAWING_VERSION}-{key[0]}-{count}-{seed}.npz"
            _sets[key] = _kept_set(data, count, seed, kept)
        return _sets[key]


def _kept_set(data: MnistData, count: int, seed: int, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The drawn set as the last process on this machine left it in ``path``, else drawn now and left there.

    Drawing 300 digits takes about 5 s (Intel Xeon, 2 cores); every training worker saves a model's
    drawn-digit accuracy, so without this each new worker (and each run on Ray) paid it again.
    """
    try:
        with np.load(path, allow_pickle=False) as kept:
            return kept["digits"], kept["labels"]
    except (OSError, ValueError, KeyError):  # not there yet, or damaged: draw it
        drawn = drawn_test_set(data.x_test, data.y_test, count, seed)
        prepared, labels = drawn.prepared, drawn.labels
    partial = path.with_name(f".{path.stem}.{os.getpid()}.npz")
    with contextlib.suppress(OSError):  # a read-only cache only costs the next process the drawing
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(partial, digits=prepared, labels=labels)
        os.replace(partial, path)  # whole or absent for a process reading it at the same time
    return prepared, labels


_SETS_KEPT = 4  # a server's own digits and a few uploads; each set is 1 MB at 300 digits
DRAWING_VERSION = 1  # part of the kept file's name: change it whenever draw() draws differently
_sets: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
_sets_lock = threading.Lock()
