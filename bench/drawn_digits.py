"""Drawn-digit benchmark: MNIST test digits redrawn on a 280x280 canvas the way a person draws them.

Each test digit becomes a drawing: stroked with a round pen of a random width
(6 to 28 canvas pixels, thin to thick), at a random size (ink a third of the
canvas height to all of it) and a random position, on one of three
backgrounds: white on black, black on white, or a coloured pen on a
transparent canvas. The pen follows the digit's centre line (its skeleton at
4x resolution), and the digit's own shape thinned or grown to the pen's width
is added, so bold parts that thinning would erase (a filled-in loop, the short
middle stroke of a 3) are kept. Every drawing then goes through
``canvas_to_mnist`` + ``predict_proba`` for each preset, and through the naive
pipeline (the whole canvas resized to 28x28) as the baseline. Seeded: the same
--seed draws the same digits the same way.

    python bench/drawn_digits.py --data ../shared/data/mnist_data.npz [--digits 2000] [--models DIR]

Presets without a model named after them in --models (e.g. saved with
``python -m core train --preset cnn --save cnn``) are trained here first.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from core.data import load_mnist  # noqa: E402
from core.preprocess import canvas_to_mnist, naive_resize  # noqa: E402

CANVAS = 280
HEIGHT_RANGE = (1 / 3, 1.0)  # ink height as a fraction of the canvas
PEN_RANGE = (6.0, 28.0)  # pen diameter in canvas pixels, thin to thick
# A person who sees a small digit fill up with a fat pen draws it bigger:
# the pen is at most this fraction of the digit's height.
MAX_PEN_FRACTION = 0.25
BACKGROUNDS = ("white-on-black", "black-on-white", "transparent")
SKELETON_SCALE = 4  # the centre line is found on the digit enlarged 4x (112x112)
SKELETON_LEVEL = 0.5  # ... and thinned from the pixels above this fraction of its brightest


@dataclass(frozen=True)
class Stroke:
    """How one digit was drawn: ink height and pen width in canvas pixels, the ink's top-left corner, background."""

    height: int
    pen: float
    top: int
    left: int
    background: str


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
    height = rng.uniform(*HEIGHT_RANGE) * CANVAS
    pen = min(rng.uniform(*PEN_RANGE), MAX_PEN_FRACTION * height)
    # The pen adds half its width on every side of the centre line.
    scale = min((height - pen) / extent[0], (CANVAS - pen) / extent[1])
    ink = _crop(_pen_ink(enlarged, line, origin, scale, natural * scale, pen, extent * scale + pen))
    if max(ink.shape) > CANVAS:  # a hair too big for the canvas: shrink it to fit
        fit = CANVAS / max(ink.shape)
        size = (max(1, int(ink.shape[1] * fit)), max(1, int(ink.shape[0] * fit)))
        ink = np.asarray(Image.fromarray(ink.astype(np.float32), mode="F").resize(size, Image.Resampling.BOX))
    top, left = (int(n) for n in rng.integers(0, CANVAS - np.array(ink.shape) + 1))
    background = BACKGROUNDS[rng.integers(len(BACKGROUNDS))]
    page = np.zeros((CANVAS, CANVAS), np.float32)
    page[top: top + ink.shape[0], left: left + ink.shape[1]] = ink
    return _compose(page, background, rng), Stroke(ink.shape[0], float(pen), top, left, background)


def _pen_ink(enlarged, line, origin, scale, natural, pen, size) -> np.ndarray:
    """The digit drawn with a round pen ``pen`` canvas pixels wide: (rows, cols) ink in [0, 1].

    The ink is the centre line ``line`` stroked with the pen, together with the
    digit's own shape (``enlarged``, 4x) thinned or grown from its ``natural``
    width to the pen's: a pen thinner than the MNIST writer's keeps the bold
    parts (a filled-in loop, the short middle stroke of a 3) that the centre
    line alone would lose. 4x pixel p lands on (p - origin) * scale + corner;
    ``size`` is the expected (rows, cols) of the ink, drawn with a margin.
    """
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


def _crop(ink: np.ndarray) -> np.ndarray:
    """The smallest rectangle of ``ink`` holding every pixel with any ink."""
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    return ink[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]


def _compose(ink: np.ndarray, background: str, rng: np.random.Generator) -> np.ndarray:
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
class DrawnSet:
    """Drawn test digits after each pipeline; the 280x280 drawings themselves are not kept."""

    prepared: np.ndarray  # (N, 28, 28) float32: canvas_to_mnist of each drawing (zeros where it saw none)
    naive: np.ndarray  # (N, 28, 28) float32: naive_resize of each drawing
    labels: np.ndarray  # (N,) int64
    sources: np.ndarray  # (N,) index of each digit in the images it was drawn from
    strokes: list[Stroke]


def drawn_test_set(images: np.ndarray, labels: np.ndarray, count: int, seed: int) -> DrawnSet:
    """Draw ``count`` of ``images`` (N, 28, 28) uint8, chosen at random, and put each drawing through both pipelines.

    The drawings are reduced one at a time, so 2,000 of them never sit in memory together.
    """
    rng = np.random.default_rng(seed)
    sources = rng.choice(len(images), size=count, replace=False)
    prepared = np.zeros((count, 28, 28), np.float32)
    naive = np.zeros((count, 28, 28), np.float32)
    strokes = []
    for index, source in enumerate(sources):
        drawing, stroke = draw(images[source], rng)
        digit = canvas_to_mnist(drawing)
        if digit is not None:  # never expected; a blank result then counts as a wrong answer
            prepared[index] = digit
        naive[index] = naive_resize(drawing)
        strokes.append(stroke)
    return DrawnSet(prepared, naive, labels[sources].astype(np.int64), sources, strokes)


def _model_for(name: str, data, store):
    """The saved model called ``name`` in ``store``, else the preset trained now; and where it came from."""
    from core.models import describe, preset
    from core.training import train

    if store is not None and name in {info.name for info in store.list().models}:
        info = store.info(name)
        return store.load(name), f"saved {describe(info.config)}", info.test_accuracy
    started = time.perf_counter()
    result = train(preset(name), data)
    return result.model, f"trained here in {time.perf_counter() - started:.0f} s", result.test_accuracy


def main() -> int:
    from core.models import PRESETS
    from core.predict import predict_proba
    from core.store import ModelStore

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="MNIST file; default: MNIST_PATH, else the usual sources")
    parser.add_argument("--digits", type=int, default=2000, help="how many test digits to draw (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="which digits, and how they are drawn")
    parser.add_argument("--models", default=None, help="folder of saved models named after the presets")
    parser.add_argument("--presets", default=",".join(PRESETS), help="comma-separated presets to measure")
    args = parser.parse_args()
    presets = [name.strip() for name in args.presets.split(",") if name.strip()]
    unknown = [name for name in presets if name not in PRESETS]
    if unknown:
        parser.error(f"unknown preset(s) {', '.join(unknown)}; choose from {', '.join(PRESETS)}")
    data = load_mnist(args.data)
    if not 1 <= args.digits <= len(data.x_test):
        parser.error(f"--digits must be from 1 to {len(data.x_test)}")
    print(f"data: {data.description}")
    started = time.perf_counter()
    drawn = drawn_test_set(data.x_test, data.y_test, args.digits, args.seed)
    print(f"drew {args.digits} test digits (seed {args.seed}) in {time.perf_counter() - started:.0f} s")
    store = ModelStore(args.models) if args.models else None
    print(f"{'preset':<10} {'test':>7} {'drawn':>7} {'naive':>7}  model")
    for name in presets:
        model, origin, test_accuracy = _model_for(name, data, store)
        prepared = np.mean(predict_proba(model, drawn.prepared).argmax(axis=1) == drawn.labels)
        baseline = np.mean(predict_proba(model, drawn.naive).argmax(axis=1) == drawn.labels)
        print(f"{name:<10} {test_accuracy:>7.4f} {prepared:>7.4f} {baseline:>7.4f}  {origin}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
