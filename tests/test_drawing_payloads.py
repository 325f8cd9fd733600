"""The value a protocol-level student sends for a drawing (harness/drawing_payloads.py) is the one the real surface
sends: checked against streamlit-drawable-canvas 0.13 as captured from Chromium, and read back by the server."""

from __future__ import annotations

import json
import math

import pytest

from core.drawing.strokes import canvas_json_strokes, canvas_json_to_mnist
from harness.drawing_payloads import CANVAS, drawing_value, surface_size
from helpers.paths import ROOT

CAPTURE = json.loads((ROOT / "tests" / "data" / "drawable_canvas_strokes.json").read_text())


def mouse_points(polyline, origin, size, steps):
    """The points the canvas saw for Playwright's mouse along ``polyline``: Playwright moves in ``steps`` equal
    steps from where the mouse is, and Chromium hands the page whole pixels; the first point comes twice (Fabric's
    brush adds the pointer-down point on start and again as its first point)."""
    x, y = origin[0] + size * polyline[0][0], origin[1] + size * polyline[0][1]
    page = [(x, y), (x, y)]
    for target_x, target_y in ((origin[0] + size * px, origin[1] + size * py) for px, py in polyline[1:]):
        page += [(x + (target_x - x) * step / steps, y + (target_y - y) * step / steps) for step in range(1, steps + 1)]
        x, y = target_x, target_y
    return [(math.floor(px) - origin[0], math.floor(py) - origin[1]) for px, py in page]


def test_the_canvas_value_is_byte_for_byte_what_streamlit_drawable_canvas_sent_from_chromium():
    size = CAPTURE["component_data"]["canvasWidth"]
    strokes = [mouse_points(polyline, CAPTURE["canvas_origin"], size, CAPTURE["mouse_steps"])
               for polyline in CAPTURE["strokes"]]
    assert drawing_value(CANVAS, CAPTURE["component_data"], strokes) == CAPTURE["json_value"]


def test_the_surface_size_and_pen_come_from_what_the_page_gave_the_component():
    assert surface_size(CANVAS, CAPTURE["component_data"]) == (280, 18)


def test_the_canvas_value_is_read_back_by_the_server_and_a_reset_is_a_blank_canvas():
    data = CAPTURE["component_data"]
    drawing = json.loads(drawing_value(CANVAS, data, [[(140, 40), (140, 140), (140.04, 240)]]))["drawing"]
    (stroke,) = canvas_json_strokes(drawing["raw"])  # what dashboard/prediction_panel.py reads
    assert stroke["width"] == 18 and min(stroke["points"][1::2]) < 45 and max(stroke["points"][1::2]) > 235
    cleared = json.loads(drawing_value(CANVAS, data, []))["drawing"]
    assert cleared["raw"]["objects"] == [] and canvas_json_to_mnist(cleared["raw"]) is None


def test_a_surface_the_student_does_not_know_is_refused_with_its_name():
    with pytest.raises(ValueError, match="'someone.else_pad'"):
        drawing_value("someone.else_pad", {}, [[(0, 0), (1, 1)]])


def test_a_stroke_of_one_point_is_refused_with_the_strokes():
    with pytest.raises(ValueError, match="at least 2 points"):
        drawing_value(CANVAS, CAPTURE["component_data"], [[(5, 5)]])
