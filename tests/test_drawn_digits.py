"""core.drawing.synthetic: the renderer that draws MNIST digits as a person would, canvas_to_mnist and the naive
resize on its drawings, and a model's accuracy on them; bench/drawn_digits.py's run."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import ndimage

from core.drawing import synthetic as drawn_digits
from core.drawing.preprocess import CANVAS_SIZE as CANVAS
from core.drawing.preprocess import canvas_to_mnist, stroke_width
from core.drawing.synthetic import BACKGROUNDS, draw, draw_digits, drawn_set, drawn_test_set, skeleton
from core.evaluation.metrics import drawn_accuracy
from core.model.predict import predict_proba
from helpers.digits import aligned_correlation, make_tiny_data, ring_digit
from helpers.paths import ROOT


def mnist_ring() -> np.ndarray:
    """helpers.digits.ring_digit as an MNIST digit: (28, 28) uint8, a 'zero' of even width."""
    return (ring_digit() * 255).astype(np.uint8)


def ink_box(drawing: np.ndarray, background: str) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the pixels with ink, read back from an RGBA drawing."""
    if background == "transparent":
        ink = drawing[..., 3] > 0
    elif background == "white-on-black":
        ink = drawing[..., 0] > 0
    else:
        ink = drawing[..., 0] < 255
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return rows[0], rows[-1], cols[0], cols[-1]


def test_skeleton_thins_a_bar_to_one_pixel_and_keeps_a_ring_closed():
    bar = np.zeros((30, 60), bool)
    bar[10:20, 5:55] = True
    line = skeleton(bar)
    assert line.sum(axis=0).max() == 1  # one pixel per column
    assert np.flatnonzero(line.any(axis=0)).size > 35  # most of the bar's length
    ring = np.asarray(mnist_ring(), np.float32) > 100
    thinned = skeleton(ring)
    assert thinned.sum() < ring.sum() / 2
    _, pieces = ndimage.label(~thinned)
    assert pieces == 2  # the hole stays a hole


def test_a_drawing_is_an_rgba_canvas_with_the_digit_where_and_as_big_as_its_stroke_says():
    rng = np.random.default_rng(0)
    low, high = drawn_digits.HEIGHT_RANGE
    for _ in range(12):
        drawing, stroke = draw(mnist_ring(), rng)
        assert drawing.shape == (CANVAS, CANVAS, 4) and drawing.dtype == np.uint8
        assert 0.95 * low * CANVAS <= stroke.height <= high * CANVAS
        assert 0 < stroke.pen <= min(drawn_digits.PEN_RANGE[1], drawn_digits.MAX_PEN_FRACTION * stroke.height * 1.05)
        assert ink_box(drawing, stroke.background)[:3] == (
            stroke.top, stroke.top + stroke.height - 1, stroke.left)


def test_the_strokes_are_as_wide_as_the_pen():
    # Within a pixel or two: the centre line found by thinning can sit half a 4x pixel
    # off the middle of the digit's own shape, and the ink is the union of both.
    rng = np.random.default_rng(1)
    for _ in range(8):
        drawing, stroke = draw(mnist_ring(), rng)
        ink = drawing[..., 3] if stroke.background == "transparent" else np.abs(
            drawing[..., 0].astype(int) - drawing[0, 0, 0])
        assert stroke_width(ink > 127) == pytest.approx(stroke.pen, rel=0.15, abs=2.5)


def test_backgrounds_are_what_they_say():
    rng = np.random.default_rng(2)
    seen = set()
    for _ in range(15):
        drawing, stroke = draw(mnist_ring(), rng)
        corner = tuple(drawing[0, 0])
        expected = {"white-on-black": (0, 0, 0, 255), "black-on-white": (255, 255, 255, 255),
                    "transparent": (0, 0, 0, 0)}[stroke.background]
        assert corner == expected
        seen.add(stroke.background)
    assert seen == set(BACKGROUNDS)


def test_the_same_seed_draws_the_same_set():
    images = np.stack([mnist_ring(), np.roll(mnist_ring(), 2, axis=1), mnist_ring()[::-1]] * 2)
    labels = np.arange(6)
    first = drawn_test_set(images, labels, count=4, seed=5)
    again = drawn_test_set(images, labels, count=4, seed=5)
    other = drawn_test_set(images, labels, count=4, seed=6)
    for name in ("prepared", "naive", "labels", "sources"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    assert first.strokes == again.strokes and first.strokes != other.strokes
    np.testing.assert_array_equal(first.labels, labels[first.sources])


def test_a_drawing_redrawn_as_canvas_strokes_reads_as_the_drawing_itself():
    """bench/drawn_digits.py's canvas figure: each drawing's ink as strokes of the Draw page's canvas (Fabric's
    JSON), read as that page reads its canvas."""
    images = np.stack([mnist_ring(), np.roll(mnist_ring(), 3, axis=0)] * 3)
    drawn = drawn_test_set(images, np.zeros(6), count=6, seed=1, through_canvas=True)
    assert drawn.from_canvas is not None and drawn_test_set(images, np.zeros(6), 2, 1).from_canvas is None
    for from_drawing, from_canvas in zip(drawn.prepared, drawn.from_canvas):
        assert aligned_correlation(from_drawing, from_canvas, shift=1) > 0.9


def test_canvas_to_mnist_gives_back_the_mnist_digit_that_was_drawn(full_mnist_path):
    with np.load(full_mnist_path) as data:
        images, labels = data["X_test"][:200], data["y_test"][:200]
    drawn = drawn_test_set(images, labels, count=40, seed=0)
    originals = images[drawn.sources] / 255
    prepared_match = [aligned_correlation(o, p, shift=2) for o, p in zip(originals, drawn.prepared)]
    naive_match = [aligned_correlation(o, n, shift=2) for o, n in zip(originals, drawn.naive)]
    assert np.median(prepared_match) > 0.75
    assert np.median(naive_match) < 0.4


def test_the_benchmark_runs_end_to_end(tiny_npz):
    run = subprocess.run(
        [sys.executable, "bench/drawn_digits.py", "--digits", "20", "--presets", "lecture"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    # Its exit status is its verdict on the canvas's figure (20 digits are too few for one); it must finish.
    assert "Traceback" not in run.stderr and run.stdout.rstrip().endswith(("PASS", "FAIL")), run.stderr
    row = next(line for line in run.stdout.splitlines() if line.startswith("lecture"))
    test, drawn, canvas, naive = (float(value) for value in row.split()[1:5])
    assert 0 <= drawn <= 1 and 0 <= canvas <= 1 and 0 <= naive <= 1 and 0 <= test <= 1


@pytest.fixture(scope="module")
def tiny_test_digits() -> tuple[np.ndarray, np.ndarray]:
    data = make_tiny_data()
    return data.x_test, data.y_test


def test_each_drawing_is_a_canvas_of_a_chosen_digit_with_its_label(tiny_test_digits):
    images, labels = tiny_test_digits
    drawings = list(draw_digits(images, labels, 12, seed=0))
    assert len({drawn.source for drawn in drawings}) == 12  # twelve different digits
    for drawn in drawings:
        assert drawn.canvas.shape == (CANVAS, CANVAS, 4) and drawn.canvas.dtype == np.uint8
        assert drawn.label == labels[drawn.source]
        assert drawn.stroke.background in BACKGROUNDS
        assert canvas_to_mnist(drawn.canvas) is not None  # there is ink to read


def test_the_same_seed_draws_the_same_digits_the_same_way(tiny_test_digits):
    first, again, other = (list(draw_digits(*tiny_test_digits, 6, seed)) for seed in (4, 4, 5))
    assert [drawn.source for drawn in first] == [drawn.source for drawn in again]
    assert all(np.array_equal(a.canvas, b.canvas) and a.stroke == b.stroke for a, b in zip(first, again))
    assert [drawn.source for drawn in first] != [drawn.source for drawn in other]


def test_blank_images_are_never_drawn_and_count_is_checked(tiny_test_digits):
    images, labels = tiny_test_digits
    images = images.copy()
    images[::2] = 0  # every other digit blank: 50 left with ink
    assert all(drawn.source % 2 == 1 for drawn in draw_digits(images, labels, 50, seed=0))
    with pytest.raises(ValueError, match="count must be from 1 to 50"):
        draw_digits(images, labels, 51)
    with pytest.raises(ValueError, match=r"images must be \(N, 28, 28\)"):
        draw_digits(images.reshape(len(images), -1), labels, 1)


def test_drawn_accuracy_reads_the_drawings_through_the_draw_pages_pipeline(tiny_result):
    data = make_tiny_data()
    accuracy = drawn_accuracy(tiny_result.model, data)
    # The tiny test set has 100 digits, fewer than LEADERBOARD_DIGITS: every one is drawn.
    drawings = list(draw_digits(data.x_test, data.y_test, len(data.x_test)))
    read = predict_proba(tiny_result.model, np.stack([canvas_to_mnist(drawn.canvas) for drawn in drawings]))
    assert accuracy == pytest.approx(np.mean(read.argmax(axis=1) == [drawn.label for drawn in drawings]))
    assert drawn_set(data) is drawn_set(make_tiny_data())  # drawn once per process for the same digits


def test_a_new_process_reads_the_drawn_set_the_last_one_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(drawn_digits, "_sets", {})
    data = make_tiny_data(test=30)
    digits, labels = drawn_set(data, count=20)
    assert len(list(tmp_path.glob("drawn-*.npz"))) == 1

    def no_drawing(*args, **kwargs):
        raise AssertionError("the kept set should have been read, not drawn again")

    monkeypatch.setattr(drawn_digits, "_sets", {})  # as in a fresh process
    monkeypatch.setattr(drawn_digits, "draw_digits", no_drawing)
    kept_digits, kept_labels = drawn_set(data, count=20)
    np.testing.assert_array_equal(kept_digits, digits)
    np.testing.assert_array_equal(kept_labels, labels)


def test_a_test_set_without_ink_has_no_drawn_accuracy(tiny_result):
    data = make_tiny_data()
    data.x_test[:] = 0
    assert drawn_accuracy(tiny_result.model, data) is None


def test_the_lecture_network_reads_most_drawn_digits(full_lecture_result, full_mnist_data):
    digits, labels = drawn_set(full_mnist_data, count=100)  # a third of LEADERBOARD_DIGITS: a third of the time
    assert digits.shape == (100, 28, 28) and labels.shape == (100,)
    # The README's table: 96.4% on 2,000 drawn digits; 100 pin it to about 2 points.
    assert drawn_accuracy(full_lecture_result.model, full_mnist_data, count=100) > 0.9


def test_importing_it_starts_neither_tensorflow_nor_scipy():
    code = "import sys, core.drawing.synthetic; print('tensorflow' in sys.modules, 'scipy' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert output.returncode == 0, output.stderr
    assert output.stdout.strip() == "False False"
