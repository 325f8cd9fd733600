"""Turn a drawing into a digit the way MNIST made its digits.

MNIST's recipe: crop to the ink, scale the longer side to 20 pixels keeping the
aspect ratio (anti-aliased), and place the result in a 28x28 frame so that its
centre of mass sits at the centre. A canvas drawing simply resized to 28x28
is too big, too thin and off-centre, and is misread most of the time.

One step more than MNIST: the pen. A digit drawn big with a thin pen shrinks
to hairlines, and one drawn small with a fat pen to a blob. So the strokes
are measured at 4x MNIST's scale and, when their width (relative to the
digit's size) is outside the range of MNIST's own digits, grown or thinned
into it, keeping an anti-aliased edge, before the digit is shrunk to 20 pixels.

The Draw page sends its strokes, not its pixels: ``rasterize_strokes`` draws
them back into the same 280x280 frame for ``canvas_to_mnist``.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

DIGIT_BOX = 20  # MNIST fits each digit's longer side into 20 pixels
FRAME = 28
# MNIST shifted each digit by whole pixels to bring its centre of mass to
# (14, 14): over its training digits the centre of mass spreads evenly over
# 13.5-14.5 in both directions, averaging 14.0.
MASS_CENTRE = 14.0
# A pixel counts as ink when it differs from the background by this much (0-1).
INK_THRESHOLD = 0.2
# Less ink than this fraction of the canvas is a blank canvas (a stray click).
MIN_INK_FRACTION = 0.0005
# The strokes are measured and redrawn on the digit scaled to 4x MNIST's box.
WORK_BOX = 4 * DIGIT_BOX
# Stroke width / longer side of the digit, as stroke_fraction measures it: the
# 10th and 90th percentiles over MNIST's 60,000 training digits (median 0.125).
# Only a pen outside the range of MNIST's own writers is changed.
STROKE_FRACTION_RANGE = (0.090, 0.177)
# The Draw page's canvas: 280x280 CSS pixels, ten per MNIST pixel.
CANVAS_SIZE = 280


def canvas_to_mnist(image: np.ndarray) -> np.ndarray | None:
    """A drawing -> a (28, 28) float32 digit in [0, 1], white on black, or None if blank.

    image : uint8 array of shape (H, W, 4) RGBA, (H, W, 3) RGB or (H, W) gray,
        any size; white-on-black, black-on-white, or strokes on a transparent
        background all work.
    """
    ink = ink_map(image)
    mask = ink > INK_THRESHOLD
    if mask.sum() < max(1, MIN_INK_FRACTION * ink.size):
        return None
    cropped = crop_to_ink(ink, mask)
    digit = _fit_in_box(crop_to_ink(_restroke(_fit_in_box(cropped, WORK_BOX))), DIGIT_BOX)
    frame = _centre_by_mass(digit, FRAME)
    peak = frame.max()
    return (frame / peak).astype(np.float32) if peak > 0 else None


def ink_map(image: np.ndarray) -> np.ndarray:
    """Any drawing -> (H, W) float32 ink in [0, 1]: 1 where the pen went, 0 on the background."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ValueError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image, got shape {image.shape}")
    if image.size == 0:
        raise ValueError("the image is empty")
    pixels = image.astype(np.float32) / (255.0 if image.dtype == np.uint8 or image.max() > 1 else 1.0)
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        alpha = pixels[..., 3]
        if np.median(_border(alpha)) < 0.5:
            return alpha  # strokes on a transparent background: the alpha is the ink
        pixels = pixels[..., :3]
    gray = pixels if pixels.ndim == 2 else pixels @ np.array([0.299, 0.587, 0.114], np.float32)
    background = float(np.median(_border(gray)))
    ink = np.abs(gray - background)
    contrast = max(background, 1.0 - background)  # how far ink can get from this background
    return np.clip(ink / contrast, 0.0, 1.0)


def naive_resize(image: np.ndarray) -> np.ndarray:
    """The baseline that fails: the whole canvas shrunk to 28x28 (no crop, no centring)."""
    ink = ink_map(image)
    return np.asarray(Image.fromarray(ink, mode="F").resize((FRAME, FRAME), Image.Resampling.BILINEAR))


def stroke_width(strokes: np.ndarray, depth: np.ndarray | None = None) -> float:
    """Typical width in pixels of the strokes in an (H, W) bool image.

    Across a stroke of width w the distance to the background runs 1, 2, ...,
    w/2, ..., 2, 1, averaging about w/4 + 1/2; ends and joints make this a few
    percent low, the same for MNIST's digits as for drawings.
    depth : that distance for every pixel, when already known.
    """
    if not strokes.any():
        return 0.0
    if depth is None:
        depth = _distance_to_background(strokes)
    return 4 * (float(depth[strokes].mean()) - 0.5)


def stroke_fraction(strokes: np.ndarray, depth: np.ndarray | None = None) -> float:
    """Stroke width / longer side of the strokes' box, for an (H, W) bool image with some ink."""
    rows = np.flatnonzero(strokes.any(axis=1))
    cols = np.flatnonzero(strokes.any(axis=0))
    return stroke_width(strokes, depth) / max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)


def _border(array: np.ndarray) -> np.ndarray:
    return np.concatenate([array[0], array[-1], array[:, 0], array[:, -1]])


def _fit_in_box(ink: np.ndarray, box: int) -> np.ndarray:
    """Scale so the longer side is ``box`` pixels, keeping the aspect ratio."""
    height, width = ink.shape
    scale = box / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # BOX averages every source pixel into its target: proper anti-aliasing when shrinking.
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(ink.astype(np.float32), mode="F").resize(size, resample))


def _restroke(ink: np.ndarray) -> np.ndarray:
    """Bring the stroke width of an (H, W) ink image into STROKE_FRACTION_RANGE of its size.

    Returns an (H + 2m, W + 2m) float32 image: a margin m leaves room to grow.
    """
    margin = WORK_BOX // 4
    strokes = np.pad(ink > 0.5 * ink.max(), margin)
    depth = _distance_to_background(strokes)
    measured = stroke_fraction(strokes, depth)
    wanted = float(np.clip(measured, *STROKE_FRACTION_RANGE))
    if wanted == measured:
        return np.pad(ink, margin).astype(np.float32)  # within MNIST's range: leave the pen alone
    # A pen adds its width to the extent of the line it follows: size = extent + width.
    width = stroke_width(strokes, depth)
    extent = max(width / measured - width, 1.0)
    grow = (wanted * extent / (1 - wanted) - width) / 2
    # Signed distance of each pixel centre to the strokes' edge, positive inside;
    # moving the edge out by ``grow`` pixels with a one-pixel ramp anti-aliases it.
    signed = np.where(strokes, depth - 0.5, 0.5 - _distance_to_background(~strokes))
    redrawn = np.clip(signed + grow + 0.5, 0.0, 1.0).astype(np.float32)
    # A pen too fat to thin without losing the digit is left as drawn.
    return redrawn if redrawn.max() >= 0.5 else np.pad(ink, margin).astype(np.float32)


def _distance_to_background(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool -> (H, W) float64: each True pixel's Euclidean distance to the nearest False one, 0 on False."""
    from scipy import ndimage  # imported here: it adds 0.2 s to start-up, and only drawings need it

    return ndimage.distance_transform_edt(mask)


def crop_to_ink(ink: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """The smallest rectangle of (H, W) ``ink`` holding every pixel of ``mask`` (by default: every pixel with any ink)."""
    mask = ink if mask is None else mask
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return ink[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]


def _centre_by_mass(digit: np.ndarray, frame: int) -> np.ndarray:
    """Place ``digit`` in a frame x frame canvas, shifted by whole pixels to bring its centre of mass nearest MASS_CENTRE."""
    height, width = digit.shape
    total = digit.sum()
    rows, cols = np.indices(digit.shape)
    centre_row = (rows * digit).sum() / total if total else (height - 1) / 2
    centre_col = (cols * digit).sum() / total if total else (width - 1) / 2
    top = int(np.clip(round(MASS_CENTRE - centre_row), 0, frame - height))
    left = int(np.clip(round(MASS_CENTRE - centre_col), 0, frame - width))
    canvas = np.zeros((frame, frame), np.float32)
    canvas[top: top + height, left: left + width] = np.clip(digit, 0.0, None)
    return canvas
