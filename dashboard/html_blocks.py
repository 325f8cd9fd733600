"""The Digits page's pictures as plain HTML blocks, so the first page appears at once.

One HTML block is one message to the browser: no image request per digit and
no charting library to load. Each digit travels as a tiny inline PNG (28x28,
a few hundred bytes) that the browser enlarges with sharp pixels.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Sequence

import numpy as np
from PIL import Image


def png_data_uri(image: np.ndarray | Image.Image) -> str:
    """A picture as 'data:image/png;base64,...': (H, W) grey, uint8 or floats in [0, 1]; (H, W, 3) uint8 RGB;
    or a PIL image."""
    if not isinstance(image, Image.Image):
        image = np.asarray(image)
        if image.dtype != np.uint8:
            image = np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)
        image = Image.fromarray(np.ascontiguousarray(image))  # mode L or RGB, from the shape
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def gallery_html(images: Sequence[np.ndarray], captions: Sequence[str], columns: int, size: int = 84) -> str:
    """A grid of ``columns`` digits per row, each ``size`` CSS pixels wide, its caption below."""
    cells = "".join(
        f'<figure style="margin:0;text-align:center">'
        f'<img src="{png_data_uri(image)}" alt="{html.escape(caption)}" '
        f'style="width:{size}px;height:{size}px;image-rendering:pixelated;border-radius:3px">'
        f'<figcaption style="font-size:0.85rem;color:#57606a">{html.escape(caption)}</figcaption></figure>'
        for image, caption in zip(images, captions)
    )
    return (f'<div style="display:grid;grid-template-columns:repeat({columns},{size}px);gap:8px 10px">'
            f"{cells}</div>")


def pixel_table_html(image: np.ndarray) -> str:
    """A (28, 28) uint8 digit as a table of its pixel values on their own grey: an annotated heatmap."""
    rows = "".join(
        "<tr>" + "".join(
            f'<td style="background:rgb({value},{value},{value});color:{"#000" if value > 110 else "#8c959f"}">'
            f"{value}</td>" for value in row
        ) + "</tr>"
        for row in np.asarray(image, np.uint8).tolist()
    )
    return ('<table style="border-collapse:collapse;font:9px/1 monospace;text-align:center;table-layout:fixed">'
            '<style>td{width:21px;height:17px;padding:0;border:0}</style>' + rows + "</table>")


def bar_chart_html(counts: Sequence[int], labels: Sequence[str], height: int = 160) -> str:
    """Vertical bars, one per label, each with its count on top."""
    highest = max(max(counts), 1)
    bars = "".join(
        f'<div style="display:flex;flex-direction:column;align-items:center;justify-content:flex-end;flex:1">'
        f'<span style="font-size:0.75rem;color:#57606a">{count:,}</span>'
        f'<div style="width:70%;height:{round(height * count / highest)}px;background:#1f6feb;border-radius:2px"></div>'
        f'<span style="font-size:0.85rem">{html.escape(label)}</span></div>'
        for count, label in zip(counts, labels)
    )
    return f'<div style="display:flex;gap:6px;align-items:flex-end;height:{height + 40}px">{bars}</div>'
