"""The pages' HTML pictures and code blocks: right pixels, right labels, the code as written, nothing injected."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
from PIL import Image

from dashboard.html_blocks import bar_chart_html, code_html, gallery_html, pixel_table_html, png_data_uri
from helpers.apptest import code_blocks


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


class Page:
    """Just enough of an AppTest page for helpers.apptest.code_blocks: its st.html blocks."""

    def __init__(self, *blocks: str):
        self.blocks = [type("Html", (), {"value": block})() for block in blocks]

    def get(self, kind: str):
        assert kind == "html"
        return self.blocks


LECTURE_CODE = ("for j in range(200):\n    sess.run([train_step, class_probs], feed_dict={x: batch_x})  # 1 step\n"
                "label = 'a<b>&\"c\"'\nW = 0.5 if not done else 1e-3")


def test_code_blocks_show_the_code_exactly_as_written():
    for text, language in [(LECTURE_CODE, "python"), ("(60000, 28, 28)\n<b>x</b>", None), ("x = (1,", "python"),
                           ("  if x:\n bad indent", "python"), ("", "python")]:
        assert code_blocks(Page(code_html(text, language))) == [(language or "text", text)]


def test_python_code_has_its_keywords_strings_numbers_and_calls_coloured():
    shown = code_html(LECTURE_CODE, "python")
    coloured = dict((word, colour) for colour, word in re.findall(r'<span style="color:(#\w+)">([^<]*)</span>', shown))
    assert {coloured[word] for word in ("for", "in", "if", "not", "else")} == {"#cf222e"}
    assert coloured["range"] == coloured["run"] == "#8250df" and "sess" not in coloured
    assert coloured["200"] == coloured["0.5"] == coloured["1e-3"] == "#0550ae"
    assert coloured["# 1 step"] == "#6e7781"
    assert "<b>" not in shown and "&lt;b&gt;" in shown  # the string's markup is text


def test_printed_output_is_not_coloured_and_cannot_inject_markup():
    shown = code_html("<script>alert(1)</script>\nfor x in y")
    assert "<span" not in shown and "<script>" not in shown
