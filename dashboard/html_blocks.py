"""Pictures and code as plain HTML blocks, so the first pages appear at once.

One HTML block is one message to the browser: no image request per digit and
no charting library to load. Each digit travels as a tiny inline PNG (28x28,
a few hundred bytes) that the browser enlarges with sharp pixels. Code is a
plain ``<pre>`` too: ``st.code`` makes the browser fetch and run a syntax
highlighter before it paints the page, 0.3 s on a cold 2-core machine.
"""

from __future__ import annotations

import base64
import html
import io
import keyword
import tokenize
from typing import Literal, Sequence

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
    """A (28, 28) uint8 digit as a table of its pixel values on their own grey: an annotated heatmap.

    Black numbers on light pixels, white on dark ones, so every value reads; dashboard.large_type enlarges it."""
    rows = "".join(
        "<tr>" + "".join(
            f'<td style="background:rgb({value},{value},{value});color:{"#000" if value > 110 else "#fff"}">'
            f"{value}</td>" for value in row
        ) + "</tr>"
        for row in np.asarray(image, np.uint8).tolist()
    )
    return ('<table class="pixel-table" style="border-collapse:collapse;font:9px/1 monospace;text-align:center;'
            'table-layout:fixed"><style>table.pixel-table td{width:21px;height:17px;padding:0;border:0}</style>'
            + rows + "</table>")


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


# GitHub's light palette, readable on the theme's white and on the code block's grey.
CODE_COLOURS = {"keyword": "#cf222e", "string": "#0a3069", "comment": "#6e7781", "number": "#0550ae",
                "call": "#8250df"}
# The background is the theme's secondaryBackgroundColor (.streamlit/config.toml), as st.code's is.
CODE_STYLE = ("background:#f3f5f8;border-radius:0.5rem;padding:0.75rem 1rem;margin:0;font-size:0.875rem;"
              "line-height:1.6;white-space:pre-wrap;overflow-wrap:anywhere")


def code_html(text: str, language: Literal["python"] | None = None) -> str:
    """A code block like ``st.code``'s: ``language="python"`` colours keywords, strings, numbers, comments
    and called names; None shows printed output as it is. Long lines wrap."""
    body = _python_html(text) if language == "python" else html.escape(text)
    return (f'<pre class="code-block" data-language="{language or "text"}" style="{CODE_STYLE}">'
            f"<code>{body}</code></pre>")


def _python_html(text: str) -> str:
    """``text`` HTML-escaped, with its Python tokens coloured; plain if it does not tokenize."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):  # an unclosed bracket or string, a bad indent
        return html.escape(text)
    line_starts = [0]
    for line in text.splitlines(keepends=True):
        line_starts.append(line_starts[-1] + len(line))
    offset = lambda row, column: line_starts[row - 1] + column  # noqa: E731  (tokenize's rows count from 1)
    pieces, written = [], 0
    for index, token in enumerate(tokens):
        kind = _token_kind(token, tokens[index + 1] if index + 1 < len(tokens) else None)
        if kind is None:
            continue
        start, end = offset(*token.start), offset(*token.end)
        pieces.append(html.escape(text[written:start]))
        pieces.append(f'<span style="color:{CODE_COLOURS[kind]}">{html.escape(text[start:end])}</span>')
        written = end
    pieces.append(html.escape(text[written:]))
    return "".join(pieces)


def _token_kind(token: tokenize.TokenInfo, following: tokenize.TokenInfo | None) -> str | None:
    if token.type == tokenize.NAME and keyword.iskeyword(token.string):
        return "keyword"
    if token.type == tokenize.NAME and following is not None and following.string == "(":
        return "call"
    return {tokenize.STRING: "string", tokenize.NUMBER: "number", tokenize.COMMENT: "comment"}.get(token.type)
