"""The Digits page's HTML pictures: right pixels, right labels, nothing injected."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
from PIL import Image

from dashboard.html_blocks import bar_chart_html, gallery_html, pixel_table_html, png_data_uri


def decode(uri: str) -> np.ndarray:
    header, payload = uri.split(",", 1)
    assert header == "data:image/png;base64"
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(payload))))


def test_a_digit_survives_the_round_trip_through_its_png():
    digit = np.random.default_rng(0).integers(0, 256, (28, 28)).astype(np.uint8)
    assert np.array_equal(decode(png_data_uri(digit)), digit)
    assert np.array_equal(decode(png_data_uri(digit / 255.0)), digit)  # floats in [0, 1] too


def test_the_gallery_has_one_figure_per_digit_with_escaped_captions():
    digits = np.zeros((3, 28, 28), np.uint8)
    block = gallery_html(digits, ["1", "2", "<script>"], columns=2)
    assert re.findall(r"<figcaption[^>]*>([^<]*)</figcaption>", block) == ["1", "2", "&lt;script&gt;"]
    assert "repeat(2," in block and "<script>" not in block


def test_the_pixel_table_prints_every_value_in_its_place():
    digit = np.arange(784).reshape(28, 28).astype(np.uint8)
    rows = re.findall(r"<tr>(.*?)</tr>", pixel_table_html(digit))
    assert len(rows) == 28
    values = [[int(value) for value in re.findall(r">(\d+)</td>", row)] for row in rows]
    assert np.array_equal(np.array(values), digit)


def test_bars_are_as_tall_as_their_counts():
    block = bar_chart_html([50, 100, 0], ["a", "b", "c"], height=100)
    heights = [int(height) for height in re.findall(r"height:(\d+)px;background", block)]
    assert heights == [50, 100, 0]
