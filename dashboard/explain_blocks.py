"""Pictures of what a model does, as plain HTML blocks: saliency maps, weight images, activations.

One colour language throughout: red is positive, blue negative, white zero,
each picture scaled symmetrically around zero so that white always means
"nothing". Every picture travels as a tiny inline PNG that the browser
enlarges with sharp pixels (as in html_blocks), so a page shows them at once,
with no chart library and no image request.
"""

from __future__ import annotations

import html
import math
from typing import Literal, Sequence

import numpy as np
from PIL import Image

from dashboard.html_blocks import png_data_uri

# ColorBrewer's RdBu ends: readable for most colour-blind viewers and in print.
RED = np.array([178, 24, 43], np.float32)
BLUE = np.array([33, 102, 172], np.float32)
WHITE = np.array([255, 255, 255], np.float32)
# The digit under a saliency map: ink as a pale grey shape, so the colours stay readable on it.
INK_GREY = 0.25
# A few extreme pixels should not wash out the rest: the colour scale ends at this percentile of |value|.
SCALE_PERCENTILE = 99.5
# Grids are drawn with this many shades on each side of white (a 2*LEVELS+1 colour palette PNG):
# 64 weight images of pure noise (the worst case) take 112 kB instead of 217 kB as full-colour PNGs.
LEVELS = 64

Scale = Literal["each", "shared"]  # one colour scale per small picture, or one for them all


def diverging_colours(values: np.ndarray, limit: float | None = None) -> np.ndarray:
    """Values of any shape (...) -> (..., 3) uint8 colours: blue below zero, white at zero, red above.

    Parameters
    ----------
    values : array of floats, any shape.
    limit : the |value| shown at full colour; larger values are clipped to it.
        None: the SCALE_PERCENTILE-th percentile of |values| (the maximum if that is 0).
    """
    values = np.asarray(values, np.float32)
    if limit is None:
        limit = symmetric_limit(values)
    if not limit > 0:
        raise ValueError(f"limit must be positive, got {limit}; pass None to scale by the values")
    strength = np.clip(values / limit, -1.0, 1.0)[..., None]  # (..., 1) in [-1, 1]
    end = np.where(strength >= 0, RED, BLUE)  # (..., 3)
    return np.rint(WHITE + np.abs(strength) * (end - WHITE)).astype(np.uint8)


def symmetric_limit(values: np.ndarray) -> float:
    """The |value| a diverging picture of ``values`` shows at full colour; 1.0 for all zeros."""
    magnitude = np.abs(np.asarray(values, np.float32))
    if magnitude.size == 0 or magnitude.max() == 0:
        return 1.0
    limit = float(np.percentile(magnitude, SCALE_PERCENTILE))
    return limit if limit > 0 else float(magnitude.max())


def saliency_colours(image: np.ndarray, attribution: np.ndarray) -> np.ndarray:
    """A (28, 28) digit and its (28, 28) attribution -> (28, 28, 3) uint8 picture.

    The digit is a pale grey shape on white; each pixel's attribution paints it
    red (pushes towards the class) or blue (pushes against), as strongly as
    its size relative to the picture's largest.

    Parameters
    ----------
    image : (H, W) digit, uint8 or floats in [0, 1].
    attribution : (H, W) floats, e.g. from core.evaluation.explain.saliency.
    """
    image, attribution = np.asarray(image), np.asarray(attribution, np.float32)
    if image.ndim != 2 or attribution.shape != image.shape:
        raise ValueError(f"image and attribution must be two (H, W) arrays of the same shape, "
                         f"got {image.shape} and {attribution.shape}")
    ink = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)
    paper = WHITE * (1.0 - INK_GREY * np.clip(ink, 0.0, 1.0))[..., None]  # (H, W, 3) the digit, pale
    strength = np.clip(np.abs(attribution) / symmetric_limit(attribution), 0.0, 1.0)[..., None]  # (H, W, 1)
    end = np.where(attribution[..., None] >= 0, RED, BLUE)  # (H, W, 3)
    return np.rint(paper + strength * (end - paper)).astype(np.uint8)


def saliency_html(image: np.ndarray, attribution: np.ndarray, size: int = 168, label: str | None = None,
                  caption: str | None = None) -> str:
    """A saliency map over its digit, with a red/blue key below.

    Parameters
    ----------
    image : (28, 28) digit, uint8 or floats in [0, 1].
    attribution : (28, 28) floats, positive where a pixel pushes towards the class
        (core.evaluation.explain.saliency).
    size : width and height of the picture in CSS pixels.
    label : the class explained, named in the key ("towards 3").
    caption : text under the key.

    Returns
    -------
    str : one HTML block for ``st.html``.
    """
    towards = f"towards {label}" if label is not None else "towards the class"
    key = (f'<div style="display:flex;justify-content:space-between;width:{size}px;font-size:0.8rem">'
           f'<span style="color:rgb({_css(BLUE)})">&#9632; against</span>'
           f'<span style="color:rgb({_css(RED)})">{html.escape(towards)} &#9632;</span></div>')
    text = (f'<figcaption style="font-size:0.85rem;color:#57606a;max-width:{size}px">{html.escape(caption)}'
            f"</figcaption>" if caption else "")
    picture = _img(saliency_colours(image, attribution), size, f"saliency {towards}")
    return f'<figure style="margin:0">{picture}{key}{text}</figure>'


def weights_grid_html(weights: np.ndarray, columns: int = 8, size: int = 48, scale: Scale = "each",
                      captions: Sequence[str] | None = None) -> str:
    """First-layer weights as a grid of images: what each hidden unit looks for in the digit.

    Parameters
    ----------
    weights : (units, 28, 28) floats, e.g. from core.evaluation.explain.first_layer_weights.
    columns : images per row.
    size : width and height of each image in CSS pixels.
    scale : "each" scales every unit's image to its own largest weight (shows
        every unit's pattern); "shared" uses one scale for all (shows which
        units have the strongest weights).
    captions : one short text per unit under its image, or None for none.

    Returns
    -------
    str : one HTML block for ``st.html``.
    """
    weights = np.asarray(weights, np.float32)
    if weights.ndim != 3:
        raise ValueError(f"weights must be (units, height, width), got shape {weights.shape}")
    if captions is not None and len(captions) != len(weights):
        raise ValueError(f"captions must have one text per unit ({len(weights)}), got {len(captions)}")
    return _grid([_colour(unit, scale, weights) for unit in weights], columns, size, captions, "weights of unit")


def weights_sheet_html(weights: np.ndarray, columns: int = 16, size: int = 40) -> str:
    """What weights_grid_html shows (each unit on its own colour scale), as one picture: a sheet of the units,
    a grey line between them, for a page that redraws it several times a second (the live Train page).

    One PNG instead of one per unit: 64 of the lecture's units took 45 ms to encode as 64 PNGs on a busy
    2-core AMD EPYC (load average 12), twice a second per training student; as one sheet, 1.5 ms.

    Parameters
    ----------
    weights : (units, height, width) floats.
    columns : units per row.
    size : the CSS pixels each unit takes, its grey line included.
    """
    weights = np.asarray(weights, np.float32)
    if weights.ndim != 3:
        raise ValueError(f"weights must be (units, height, width), got shape {weights.shape}")
    if columns < 1:
        raise ValueError(f"columns must be at least 1, got {columns}")
    units, height, width = weights.shape
    rows = math.ceil(units / columns)
    magnitude = np.abs(weights).reshape(units, -1)  # (units, H*W)
    limits = np.percentile(magnitude, SCALE_PERCENTILE, axis=1)  # (units,) symmetric_limit of each, at once
    limits = np.where(limits > 0, limits, magnitude.max(axis=1))
    limits = np.where(limits > 0, limits, 1.0)[:, None, None]  # (units, 1, 1)
    shades = (np.rint(np.clip(weights / limits, -1.0, 1.0) * LEVELS) + LEVELS).astype(np.uint8)  # (units, H, W)
    tiles = np.full((rows * columns, height + 1, width + 1), _SHEET_LINE, np.uint8)  # each with its line above, left
    tiles[:units, 1:, 1:] = shades
    sheet = tiles.reshape(rows, columns, height + 1, width + 1).transpose(0, 2, 1, 3).reshape(
        rows * (height + 1), columns * (width + 1))  # (H', W'): the tiles in rows
    sheet = np.pad(sheet, ((0, 1), (0, 1)), constant_values=_SHEET_LINE)  # the line below and right of the last
    picture = Image.fromarray(sheet, mode="L")
    picture.putpalette(_PALETTE + [208, 215, 222])  # the line: index 2*LEVELS+1, the grids' grey (#d0d7de)
    scale = size / (width + 1)  # CSS pixels per picture pixel
    return (f'<img src="{png_data_uri(picture)}" alt="weights of {units} hidden units" '
            f'style="width:{round(sheet.shape[1] * scale)}px;height:{round(sheet.shape[0] * scale)}px;'
            f'image-rendering:pixelated">')


def unit_grid_html(values: np.ndarray, columns: int | None = None, size: int = 22) -> str:
    """A dense layer's activations as a grid of coloured squares (the lecture's 64 units: 8x8).

    Parameters
    ----------
    values : (units,) floats, one hidden layer's output for one digit.
    columns : squares per row; None for a square-ish grid (ceil of the square root).
    size : side of each square in CSS pixels. Hovering a square shows its unit and value.
    """
    values = np.asarray(values, np.float32)
    if values.ndim != 1:
        raise ValueError(f"values must be one layer's (units,) activations, got shape {values.shape}")
    columns = columns or math.ceil(math.sqrt(len(values)))
    colours = diverging_colours(values)
    cells = "".join(
        f'<div title="unit {index}: {value:+.3f}" style="width:{size}px;height:{size}px;'
        f'background:rgb({_css(colour)})"></div>'
        for index, (value, colour) in enumerate(zip(values.tolist(), colours))
    )
    return (f'<div style="display:grid;grid-template-columns:repeat({columns},{size}px);gap:2px;'
            f'background:#d0d7de;padding:2px;width:max-content">{cells}</div>')


def feature_maps_html(maps: np.ndarray, columns: int = 8, size: int = 56, scale: Scale = "shared") -> str:
    """A convolution block's output for one digit: one small image per channel.

    Parameters
    ----------
    maps : (height, width, channels) floats, one layer's output for one digit.
    columns : images per row.
    size : width and height of each image in CSS pixels.
    scale : "shared" (default) keeps the maps comparable: a pale map is a weak
        one; "each" shows every map's own pattern.
    """
    maps = np.asarray(maps, np.float32)
    if maps.ndim != 3:
        raise ValueError(f"maps must be (height, width, channels), got shape {maps.shape}")
    channels = np.moveaxis(maps, -1, 0)  # (channels, height, width)
    return _grid([_colour(channel, scale, channels) for channel in channels], columns, size, None, "channel")


def activations_html(values: np.ndarray) -> str:
    """One hidden layer's output for one digit, drawn the way its shape asks.

    Parameters
    ----------
    values : (units,) for a dense layer, or (height, width, channels) for a convolution block.
    """
    values = np.asarray(values)
    if values.ndim == 1:
        return unit_grid_html(values)
    if values.ndim == 3:
        return feature_maps_html(values)
    raise ValueError(f"expected one digit's activations, (units,) or (height, width, channels), "
                     f"got shape {values.shape}")


def probabilities_html(probabilities: np.ndarray, width: int = 260) -> str:
    """The ten class probabilities as horizontal bars, the most likely class in a stronger colour.

    Parameters
    ----------
    probabilities : (10,) floats summing to 1, class 0 first.
    width : length of a 100% bar in CSS pixels.
    """
    probabilities = np.asarray(probabilities, np.float64)
    if probabilities.ndim != 1:
        raise ValueError(f"probabilities must be one digit's (classes,) array, got shape {probabilities.shape}")
    top = int(np.argmax(probabilities))
    rows = "".join(
        f'<div style="display:flex;align-items:center;gap:6px;height:18px">'
        f'<span style="width:10px;font-weight:{700 if digit == top else 400}">{digit}</span>'
        f'<div style="width:{width}px;background:#eaeef2;border-radius:2px">'
        f'<div style="width:{round(width * value)}px;height:12px;border-radius:2px;'
        f'background:{"#1f6feb" if digit == top else "#8fb8f6"}"></div></div>'
        f'<span style="font-size:0.8rem;color:#57606a">{value:.1%}</span></div>'
        for digit, value in enumerate(probabilities.tolist())
    )
    return f'<div aria-label="probability of each digit" style="font-size:0.85rem">{rows}</div>'


def _colour(picture: np.ndarray, scale: Scale, everything: np.ndarray) -> Image.Image:
    """(H, W) floats -> a palette image of their diverging colours, scaled by ``picture`` or by ``everything``."""
    if scale not in ("each", "shared"):
        raise ValueError(f'scale must be "each" or "shared", got {scale!r}')
    limit = symmetric_limit(picture if scale == "each" else everything)
    shades = np.rint(np.clip(picture / limit, -1.0, 1.0) * LEVELS).astype(np.int16) + LEVELS  # (H, W) in 0..2*LEVELS
    indexed = Image.fromarray(shades.astype(np.uint8), mode="L")
    indexed.putpalette(_PALETTE)  # an "L" image given a palette becomes a "P" image
    return indexed


def _grid(pictures: Sequence[Image.Image], columns: int, size: int, captions: Sequence[str] | None,
          alt: str) -> str:
    if columns < 1:
        raise ValueError(f"columns must be at least 1, got {columns}")
    cells = "".join(
        f'<figure style="margin:0;text-align:center">{_img(picture, size, f"{alt} {index}")}'
        + (f'<figcaption style="font-size:0.75rem;color:#57606a">{html.escape(captions[index])}</figcaption>'
           if captions is not None else "")
        + "</figure>"
        for index, picture in enumerate(pictures)
    )
    return f'<div style="display:grid;grid-template-columns:repeat({columns},{size}px);gap:4px">{cells}</div>'


def _img(picture: np.ndarray | Image.Image, size: int, alt: str) -> str:
    """(H, W, 3) uint8 or a PIL image -> an <img> of it as an inline PNG, enlarged to ``size`` CSS pixels, sharp."""
    return (f'<img src="{png_data_uri(picture)}" alt="{html.escape(alt)}" style="width:{size}px;height:{size}px;'
            f'image-rendering:pixelated;border:1px solid #d0d7de">')


_PALETTE = diverging_colours(np.arange(-LEVELS, LEVELS + 1, dtype=np.float32), limit=LEVELS).ravel().tolist()
_SHEET_LINE = 2 * LEVELS + 1  # the palette index of the line between a sheet's units


def _css(colour: np.ndarray) -> str:
    return ",".join(str(int(channel)) for channel in colour)
