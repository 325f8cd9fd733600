"""The canvas's Fabric JSON -> strokes -> the 28x28 digit (core.drawing.strokes): drawings recorded from the real
canvas in Chromium come out where Chromium painted them, edited ones too, and anything else is refused with a
message before any drawing work."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from core.drawing.preprocess import canvas_to_mnist
from core.drawing.strokes import (
    MAX_OBJECTS,
    MAX_POINTS,
    canvas_json,
    canvas_json_strokes,
    canvas_json_to_mnist,
    rasterize_strokes,
)
from helpers.canvas import recorded

SEVEN = [{"width": 18, "points": [70, 60, 210, 60, 120, 230]}]


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    return (a & b).sum() / (a | b).sum()


@pytest.mark.parametrize("name", ["drawn", "edited"])
def test_a_recorded_canvas_drawing_lands_where_chromium_painted_it(name):
    """'edited' holds a stroke stretched sideways, turned and moved, and one skewed, with the toolbar's Edit."""
    drawing, painted = recorded(name)
    ours = rasterize_strokes(canvas_json_strokes(drawing)) > 127
    assert overlap(ours, painted) > 0.93  # the rest is the edge: our pen is about a third of a pixel bolder
    digit, browsers_digit = canvas_json_to_mnist(drawing), canvas_to_mnist(painted.astype(np.uint8) * 255)
    assert np.abs(digit - browsers_digit).mean() < 0.01


def test_each_recorded_path_is_placed_around_the_centre_of_its_box_as_fabric_measures_it():
    drawing, _ = recorded("drawn")
    for item in drawing["objects"]:  # untouched pencil strokes: origin at the centre, path in canvas pixels
        points = np.array(canvas_json_strokes({"objects": [item]})[0]["points"]).reshape(-1, 2)
        moved = copy.deepcopy(item)
        moved["left"], moved["top"] = item["left"] + 30, item["top"] - 20
        shifted = np.array(canvas_json_strokes({"objects": [moved]})[0]["points"]).reshape(-1, 2)
        assert np.allclose(points[0], item["path"][0][1:], atol=1e-6)  # pathOffset == left/top: no shift
        assert np.allclose(shifted - points, [30, -20], atol=1e-6)


def test_a_flipped_stroke_is_its_mirror_image_about_the_centre_of_its_box():
    item = canvas_json(SEVEN)["objects"][0]  # x from 70 to 210: its box's centre is at 140
    (flipped,) = canvas_json_strokes({"objects": [{**item, "flipX": True}]})
    mirrored = [280 - value if index % 2 == 0 else value for index, value in enumerate(SEVEN[0]["points"])]
    assert flipped == {"width": 18, "points": pytest.approx(mirrored)}


def test_strokes_go_through_the_canvas_json_and_back_unchanged():
    strokes = SEVEN + [{"width": 10, "points": [30, 250]}]  # and a dot
    assert np.array_equal(rasterize_strokes(canvas_json_strokes(canvas_json(strokes))), rasterize_strokes(strokes))


def test_a_blank_canvas_reads_as_no_digit():
    assert canvas_json_to_mnist(None) is None
    assert canvas_json_to_mnist({"version": "7.4.0", "objects": [], "background": "#000000"}) is None


def path(**changes) -> dict:
    """The canvas's JSON with one stroke of SEVEN, some of its fields changed."""
    drawing = canvas_json(SEVEN)
    drawing["objects"][0].update(changes)
    return drawing


@pytest.mark.parametrize("drawing, message", [
    ("a 7", "must be the canvas's JSON object"),
    ({"objects": {"0": {}}}, "'objects' must be a list"),
    ({"objects": [{"type": "Rect", "left": 0}]}, "object 0 is a 'Rect'; only freehand strokes"),
    ({"objects": [["M", 1, 2]]}, "must be a Fabric object"),
    (path(left=float("nan")), "'left' must be a number"),
    (path(top=1e300), "'top' must be a number"),
    (path(strokeWidth=1e7), "'strokeWidth' must be a number from 0 to 280"),
    (path(strokeWidth=0), "'strokeWidth' must be a number from 0 to 280"),
    (path(scaleX=1e6), "'scaleX' must be a number"),
    (path(skewY=90), "'skewY' must be a number"),
    (path(originX="middle"), "'originX' must be one of left, center, right"),
    (path(path="M 0 0 L 10 10"), "'path' must be a list of commands"),
    (path(path=[["M", 0, 0], ["A", 5, 5, 0, 0, 1, 10, 10]]), "path command 1 must be one of M, L, Q, C, Z"),
    (path(path=[["M", 0, 0], ["L", 10]]), "path command 1 (L) must have 2 numbers"),
    (path(path=[["M", 0, 0], ["L", 10, float("inf")]]), "path command 1 (L) must have 2 numbers"),
    (path(path=[["M", 0, 0], ["L", 10, 1e9]]), "within 2,800 pixels"),
    (path(path=[["L", 0, 0], ["L", 10, 10]]), "a path starts with M"),
    (path(scaleX=20, scaleY=20), "'width' must be a pen width from 0 to the canvas's 280 pixels"),
    ({"objects": canvas_json(SEVEN)["objects"] * (MAX_OBJECTS + 1)}, f"at most {MAX_OBJECTS} can be read"),
    (path(path=[["M", 0, 0]] + [["L", n % 280, 100] for n in range(MAX_POINTS)]), f"more than {MAX_POINTS:,} points"),
    ({"objects": canvas_json([{"width": 9, "points": [10, 20] * (MAX_POINTS // 2)}] * 3)["objects"]},
     f"more than {MAX_POINTS:,} points"),
])
def test_what_the_canvas_cannot_have_sent_is_refused_with_a_message(drawing, message):
    with pytest.raises(ValueError) as refused:
        canvas_json_to_mnist(drawing)
    assert message in str(refused.value)


def test_a_pen_wider_than_the_canvas_is_refused_before_anything_is_drawn():
    # PIL's time for a round dot grows with its size: 0.03 s at 1e6 pixels across, over a minute at 1e7.
    for stroke in ({"width": 1e7, "points": [10, 10, 20, 20]},
                   {"width": 18, "points": [10, 10], "pen": [[1e6, 0], [0, 1]]}):  # a pen stretched by 1e6
        with pytest.raises(ValueError, match="280 pixels"):
            rasterize_strokes([stroke])
