"""core.drawing.preprocess: any drawing -> an MNIST-like digit, whatever its size, place, pen and background."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image, ImageDraw

from core.drawing import preprocess
from core.drawing.preprocess import CANVAS_SIZE, canvas_to_mnist, ink_map, naive_resize, stroke_fraction, stroke_width
from core.drawing.strokes import MAX_POINTS, rasterize_strokes
from helpers.digits import aligned_correlation, centre_of_mass

# A "7" with a bar, as a polyline in a unit square (x, y).
SEVEN = [(0.1, 0.05), (0.9, 0.05), (0.45, 0.95)]
BAR = [(0.3, 0.5), (0.8, 0.5)]


def draw_ink(size: int = 280, height: float = 200, pen: int = 18, top: float = 40, left: float = 40) -> np.ndarray:
    """(size, size) float32 ink of a 7 whose centre line is ``height`` pixels tall, drawn with a round pen."""
    canvas = Image.new("L", (size, size), 0)
    pencil = ImageDraw.Draw(canvas)
    for line in (SEVEN, BAR):
        points = [(left + x * height, top + y * height) for x, y in line]
        pencil.line(points, fill=255, width=pen, joint="curve")
        for x, y in (points[0], points[-1]):
            pencil.ellipse([x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2], fill=255)
    return np.asarray(canvas, np.float32) / 255


def as_drawing(ink: np.ndarray, background: str) -> np.ndarray:
    """Ink in [0, 1] -> uint8 RGBA (or RGB / gray) as a canvas widget returns it."""
    level = np.round(ink * 255).astype(np.uint8)
    if background == "gray":
        return level
    if background == "rgb-black-on-white":
        return np.repeat(255 - level[..., None], 3, axis=2)
    drawing = np.zeros(ink.shape + (4,), np.uint8)
    if background == "white-on-black":
        drawing[..., :3], drawing[..., 3] = level[..., None], 255
    elif background == "black-on-white":
        drawing[..., :3], drawing[..., 3] = 255 - level[..., None], 255
    else:  # transparent, with a blue pen
        drawing[..., 2], drawing[..., 3] = 200, level
        drawing[level == 0] = 0
    return drawing


def box_side(digit: np.ndarray, level: float = 0.05) -> int:
    rows = np.flatnonzero((digit > level).any(axis=1))
    cols = np.flatnonzero((digit > level).any(axis=0))
    return max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)


@pytest.mark.parametrize("blank", [
    np.zeros((280, 280, 4), np.uint8),  # transparent
    np.full((280, 280, 4), 255, np.uint8),  # opaque white
    np.dstack([np.zeros((280, 280, 3), np.uint8), np.full((280, 280), 255, np.uint8)]),  # opaque black
    np.zeros((100, 50), np.uint8),
], ids=["transparent", "white", "black", "gray"])
def test_a_blank_canvas_gives_none(blank):
    assert canvas_to_mnist(blank) is None


def test_a_stray_click_is_blank():
    ink = np.zeros((280, 280), np.float32)
    ink[100:104, 100:104] = 1.0  # 16 pixels, under 0.05% of the canvas
    assert canvas_to_mnist(as_drawing(ink, "white-on-black")) is None


def test_the_result_is_a_28x28_float_digit_in_0_1_with_mnist_size_and_centre():
    digit = canvas_to_mnist(as_drawing(draw_ink(), "white-on-black"))
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    assert digit.min() >= 0 and digit.max() == pytest.approx(1.0)
    assert preprocess.DIGIT_BOX - 1 <= box_side(digit) <= preprocess.DIGIT_BOX + 1
    row, col = centre_of_mass(digit)
    assert abs(row - preprocess.MASS_CENTRE) <= 0.5 + 1e-6 and abs(col - preprocess.MASS_CENTRE) <= 0.5 + 1e-6


@pytest.mark.parametrize("background", [
    "black-on-white", "transparent", "rgb-black-on-white", "gray",
])
def test_every_background_gives_the_same_digit(background):
    ink = draw_ink()
    expected = canvas_to_mnist(as_drawing(ink, "white-on-black"))
    np.testing.assert_allclose(canvas_to_mnist(as_drawing(ink, background)), expected, atol=1e-4)


def test_size_and_place_on_the_canvas_do_not_matter():
    big = as_drawing(draw_ink(height=220, pen=20, top=20, left=30), "white-on-black")
    small = as_drawing(draw_ink(height=88, pen=8, top=170, left=5), "white-on-black")
    assert aligned_correlation(canvas_to_mnist(big), canvas_to_mnist(small)) > 0.95
    assert aligned_correlation(naive_resize(big), naive_resize(small)) < 0.5  # the baseline is thrown by both


@pytest.mark.parametrize("pen", [3, 60])
def test_a_pen_far_thinner_or_bolder_than_mnist_is_brought_into_its_range(pen):
    digit = canvas_to_mnist(as_drawing(draw_ink(height=240 - pen, pen=pen, top=20, left=20), "white-on-black"))
    low, high = preprocess.STROKE_FRACTION_RANGE
    # Measured on the digit scaled back up 4x, as the range was measured on MNIST.
    fraction = stroke_fraction(_enlarged_strokes(digit))
    assert low - 0.02 <= fraction <= high + 0.02


def test_a_pen_within_mnist_range_is_left_alone():
    ink = draw_ink(height=200, pen=28)
    strokes = ink > 0.5
    assert preprocess.STROKE_FRACTION_RANGE[0] < stroke_fraction(strokes) < preprocess.STROKE_FRACTION_RANGE[1]
    work = preprocess._fit_in_box(ink[30:260, 30:260], preprocess.WORK_BOX)
    margin = preprocess.WORK_BOX // 4
    np.testing.assert_array_equal(preprocess._restroke(work), np.pad(work, margin))


@pytest.mark.parametrize("pen", [4, 9, 16, 25])
def test_stroke_width_measures_a_pen_within_a_tenth(pen):
    strokes = draw_ink(height=200, pen=pen) > 0.5
    assert stroke_width(strokes) == pytest.approx(pen, rel=0.1, abs=0.6)


def test_the_stroke_fraction_range_is_mnists(full_mnist_path):
    with np.load(full_mnist_path) as data:
        digits = data["X_train"][:6000]
    fractions = np.array([stroke_fraction(_enlarged_strokes(digit)) for digit in digits])
    np.testing.assert_allclose(np.percentile(fractions, [10, 90]), preprocess.STROKE_FRACTION_RANGE, atol=0.006)


def test_mnist_digits_come_back_nearly_unchanged(full_mnist_path):
    with np.load(full_mnist_path) as data:
        digits = data["X_test"][:300]
    similarity = []
    for digit in digits:
        original = digit.astype(np.float32) / 255
        result = canvas_to_mnist(digit)
        similarity.append(np.corrcoef(original.ravel(), result.ravel())[0, 1])
    assert np.median(similarity) > 0.95 and np.mean(similarity) > 0.9


@pytest.mark.parametrize("shape", [(10, 10, 2), (5, 5, 5), (2, 2, 2, 2), (0, 0)])
def test_an_image_of_the_wrong_shape_is_a_value_error(shape):
    with pytest.raises(ValueError):
        ink_map(np.zeros(shape, np.uint8))


def test_ink_map_reads_a_canvas_with_an_extra_channel_axis():
    ink = draw_ink()
    np.testing.assert_allclose(ink_map(as_drawing(ink, "gray")[..., None]), ink, atol=1 / 255)


def test_naive_resize_is_the_whole_canvas_at_28x28():
    ink = draw_ink()
    naive = naive_resize(as_drawing(ink, "black-on-white"))
    assert naive.shape == (28, 28)
    assert naive.mean() == pytest.approx(ink.mean(), abs=0.01)


def seven_strokes(height: float = 200, pen: int = 18, top: float = 40, left: float = 40) -> list[dict]:
    """The 7 of draw_ink as the Draw page's pad sends it: one dict per stroke, points flattened."""
    return [{"width": pen, "points": [value for x, y in line for value in (left + x * height, top + y * height)]}
            for line in (SEVEN, BAR)]


def test_strokes_are_drawn_white_on_black_in_the_canvas_frame():
    image = rasterize_strokes(seven_strokes(top=40.5, left=40.5))  # +0.5: draw_ink uses PIL's pixel centres
    assert image.shape == (CANVAS_SIZE, CANVAS_SIZE) and image.dtype == np.uint8
    assert set(np.unique(image)) == {0, 255}
    drawn, expected = image > 0, draw_ink(top=40, left=40) > 0.5  # the same pen: round ends and corners
    assert (drawn & expected).sum() / (drawn | expected).sum() > 0.98


@pytest.mark.parametrize("pen", [6, 18, 30])
def test_strokes_are_as_wide_as_the_pen(pen):
    assert stroke_width(rasterize_strokes(seven_strokes(pen=pen)) > 0) == pytest.approx(pen, rel=0.1, abs=0.6)


def test_one_point_is_a_round_dot_of_the_pen_width_where_the_browser_puts_it():
    dot = rasterize_strokes([{"width": 20, "points": [100, 150]}]) > 0
    rows, cols = np.nonzero(dot)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (140, 159, 90, 109)  # 20 pixels across
    assert (rows.mean() + 0.5, cols.mean() + 0.5) == pytest.approx((150, 100))  # a pixel's centre is at +0.5
    assert dot.sum() == pytest.approx(np.pi * 10 ** 2, rel=0.05)


def test_a_line_covers_the_same_pixels_as_the_dots_at_its_ends():
    line = rasterize_strokes([{"width": 20, "points": [40, 150, 240, 150]}]) > 0
    assert np.array_equal(np.flatnonzero(line.any(axis=1)), np.arange(140, 160))
    assert np.array_equal(np.flatnonzero(line.any(axis=0)), np.arange(30, 250))


def test_strokes_read_as_the_same_digit_as_their_picture():
    from_strokes = canvas_to_mnist(rasterize_strokes(seven_strokes(height=150, pen=14, top=70, left=90)))
    from_picture = canvas_to_mnist(as_drawing(draw_ink(height=150, pen=14, top=70, left=90), "white-on-black"))
    assert np.corrcoef(from_strokes.ravel(), from_picture.ravel())[0, 1] > 0.98  # the corners differ by a pixel


def test_no_strokes_is_a_blank_canvas():
    assert not rasterize_strokes([]).any()
    assert canvas_to_mnist(rasterize_strokes([])) is None


def test_strokes_off_the_canvas_are_cut_at_its_edge():
    image = rasterize_strokes([{"width": 10, "points": [-50, 140, 400, 140]}], size=100)
    assert image.shape == (100, 100) and not image.any()  # y = 140 lies below a 100-pixel canvas
    assert rasterize_strokes([{"width": 10, "points": [-50, 40, 400, 40]}], size=100)[40].all()


@pytest.mark.parametrize("stroke, message", [
    ({"points": [1, 2]}, "'width' and 'points'"),
    ([1, 2, 3, 4], "'width' and 'points'"),
    ({"width": 0, "points": [1, 2]}, "'width' must be a pen width"),
    ({"width": "18", "points": [1, 2]}, "'width' must be a pen width"),
    ({"width": 1e7, "points": [1, 2]}, "'width' must be a pen width from 0 to the canvas's 280 pixels"),
    ({"width": 18, "points": [1, 2, 3]}, "'points' must be x, y pairs"),
    ({"width": 18, "points": []}, "'points' must be x, y pairs"),
    ({"width": 18, "points": [1, float("nan")]}, "'points' must be numbers within 2,800 pixels"),
    ({"width": 18, "points": [1, 1e12]}, "'points' must be numbers within 2,800 pixels"),
    ({"width": 18, "points": "1, 2"}, "'points' must be x, y pairs"),
])
def test_a_malformed_stroke_is_a_value_error_naming_it(stroke, message):
    good = {"width": 18, "points": [10, 10, 20, 20]}
    with pytest.raises(ValueError, match=f"stroke 1.*{re.escape(message)}"):
        rasterize_strokes([good, stroke])


@pytest.mark.parametrize("strokes, message", [
    ([{"width": 1e7, "points": [0, 0, 280, 280]}], "from 0 to the canvas's 280 pixels"),  # issue 22: 113 s before
    ([{"width": 281, "points": [0, 0]}], "from 0 to the canvas's 280 pixels"),
    ([{"width": 18, "points": [0, 0] * (MAX_POINTS + 1)}], f"more than {MAX_POINTS:,} points"),
    ([{"width": 18, "points": [0, 0] * 3000}] * 2, f"more than {MAX_POINTS:,} points"),
    ([{"width": 18, "points": [0, 0]}] * (MAX_POINTS + 1), f"more than {MAX_POINTS:,} points"),
    ([{"width": 18, "points": [0, 0, 1e9, 1e9]}], "within 2,800 pixels of the canvas"),
    ([{"width": 18, "points": [0, -3000]}], "within 2,800 pixels"),
])
def test_a_stroke_wider_than_the_canvas_or_too_long_or_too_far_is_refused_before_drawing(strokes, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        rasterize_strokes(strokes)


def test_a_refused_strokes_message_stays_short_however_much_was_sent():
    with pytest.raises(ValueError) as refused:
        rasterize_strokes([{"width": 18, "points": [0.5] * 10_000_000 + ["x"]}])
    assert len(str(refused.value)) < 300


def test_strokes_at_the_bounds_are_drawn():
    widest = rasterize_strokes([{"width": 280, "points": [140, 140]}])
    assert widest[140].all() and widest[:, 140].all()  # a dot as wide as the canvas spans it
    far = rasterize_strokes([{"width": 10, "points": [-2800, 140, 2800, 140] * (MAX_POINTS // 2)}])
    assert far[140].all()


def test_the_canvas_size_must_be_positive():
    with pytest.raises(ValueError, match="size"):
        rasterize_strokes([], size=0)


def _enlarged_strokes(digit: np.ndarray) -> np.ndarray:
    """A (28, 28) digit, scaled up 4x (bilinear) and cut at half its peak: its strokes at the working scale."""
    side = 4 * digit.shape[0]
    enlarged = np.asarray(Image.fromarray(digit.astype(np.float32), mode="F").resize((side, side), Image.BILINEAR))
    return enlarged > 0.5 * enlarged.max()
