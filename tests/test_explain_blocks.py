"""dashboard.explain_blocks: the right colours in the right places, one picture per unit, nothing injected."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image

from dashboard.explain_blocks import (
    BLUE,
    RED,
    activations_html,
    diverging_colours,
    feature_maps_html,
    probabilities_html,
    saliency_colours,
    saliency_html,
    unit_grid_html,
    weights_grid_html,
    weights_sheet_html,
)

WHITE = (255, 255, 255)


def pictures(block: str) -> list[np.ndarray]:
    """Every inline PNG in an HTML block, as (H, W, 3) uint8 RGB."""
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(payload))).convert("RGB"))
            for payload in re.findall(r'src="data:image/png;base64,([^"]+)"', block)]


def test_diverging_colours_are_blue_white_red_and_clip_at_the_limit():
    colours = diverging_colours(np.array([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0]), limit=1.0)
    assert [tuple(colour) for colour in colours[[0, 1, 2, 4, 5]]] == [tuple(BLUE)] * 2 + [WHITE] + [tuple(RED)] * 2
    halfway = np.rint((np.array(WHITE) + RED) / 2)
    np.testing.assert_allclose(colours[3], halfway, atol=1)


def test_diverging_colours_scale_by_the_values_and_reject_a_bad_limit():
    colours = diverging_colours(np.array([[0.0, -4.0], [2.0, 4.0]]))  # (2, 2) -> (2, 2, 3)
    assert colours.shape == (2, 2, 3) and colours.dtype == np.uint8
    assert tuple(colours[0, 1]) == tuple(BLUE) and tuple(colours[1, 1]) == tuple(RED)
    assert tuple(diverging_colours(np.zeros(3))[0]) == WHITE  # all zeros: all white, no division by zero
    with pytest.raises(ValueError, match="limit"):
        diverging_colours(np.ones(3), limit=0.0)


def test_saliency_paints_pushing_pixels_red_and_opposing_ones_blue_over_a_pale_digit():
    digit = np.zeros((28, 28), np.float32)
    digit[5:20, 10:14] = 1.0
    attribution = np.zeros((28, 28), np.float32)
    attribution[6, 11], attribution[18, 12] = 1.0, -1.0
    colours = saliency_colours(digit, attribution)
    assert tuple(colours[6, 11]) == tuple(RED) and tuple(colours[18, 12]) == tuple(BLUE)
    assert tuple(colours[0, 0]) == WHITE  # background: white paper
    ink = colours[10, 11]
    assert ink[0] == ink[1] == ink[2] < 255  # the digit itself: grey, not coloured


def test_saliency_html_shows_that_picture_with_its_key():
    digit = np.random.default_rng(0).random((28, 28))
    attribution = np.random.default_rng(1).normal(size=(28, 28))
    block = saliency_html(digit, attribution, label="3", caption="<why>")
    (picture,) = pictures(block)
    np.testing.assert_array_equal(picture, saliency_colours(digit, attribution))
    assert "towards 3" in block and "against" in block
    assert "&lt;why&gt;" in block and "<why>" not in block


def test_saliency_needs_two_pictures_of_one_shape():
    with pytest.raises(ValueError, match="same shape"):
        saliency_html(np.zeros((28, 28)), np.zeros((14, 14)))


def test_the_weights_grid_has_one_image_per_unit_in_rows_of_columns():
    weights = np.random.default_rng(0).normal(size=(12, 28, 28)).astype(np.float32)
    block = weights_grid_html(weights, columns=4, captions=[f"unit {index}" for index in range(12)])
    images = pictures(block)
    assert len(images) == 12 and all(image.shape == (28, 28, 3) for image in images)
    assert "repeat(4," in block
    assert re.findall(r"<figcaption[^>]*>([^<]*)</figcaption>", block) == [f"unit {index}" for index in range(12)]


@pytest.mark.parametrize("scale", ["each", "shared"])
def test_each_weight_image_shows_the_sign_of_its_weights(scale):
    weights = np.zeros((2, 28, 28), np.float32)
    weights[0, 3, 4], weights[0, 20, 20] = 0.1, -0.1  # a unit with small weights...
    weights[1, 3, 4] = 10.0  # ...beside one with a big weight
    small, big = pictures(weights_grid_html(weights, scale=scale))
    assert tuple(big[3, 4]) == tuple(RED) and tuple(small[0, 0]) == WHITE
    if scale == "each":  # the small unit's pattern shows at full strength
        assert tuple(small[3, 4]) == tuple(RED) and tuple(small[20, 20]) == tuple(BLUE)
    else:  # on the big unit's scale it is nearly white
        assert small[3, 4].min() > 240


def test_the_weights_sheet_is_the_grids_pictures_on_one_image_lined_in_grey():
    weights = np.random.default_rng(0).normal(size=(5, 28, 28)).astype(np.float32)
    weights[1] = 0.0
    [sheet] = pictures(weights_sheet_html(weights, columns=2))
    assert sheet.shape == (3 * 29 + 1, 2 * 29 + 1, 3)  # 3 rows of 2, a 1-pixel line around each unit
    grid = pictures(weights_grid_html(weights, columns=2))
    for unit, picture in enumerate(grid):
        row, column = divmod(unit, 2)
        np.testing.assert_array_equal(sheet[1 + 29 * row: 29 * (row + 1), 1 + 29 * column: 29 * (column + 1)],
                                      picture)  # each unit on its own scale, as in the grid
    assert tuple(sheet[0, 0]) == tuple(sheet[29, 30]) == (208, 215, 222)  # the grey lines
    assert tuple(sheet[60, 31]) == (208, 215, 222)  # where a sixth unit would be: line grey, no picture


def test_bad_grids_are_value_errors():
    with pytest.raises(ValueError, match="weights"):
        weights_grid_html(np.zeros((28, 28)))
    with pytest.raises(ValueError, match="captions"):
        weights_grid_html(np.zeros((3, 28, 28)), captions=["one"])
    with pytest.raises(ValueError, match="scale"):
        weights_grid_html(np.zeros((3, 28, 28)), scale="loud")
    with pytest.raises(ValueError, match="columns"):
        weights_grid_html(np.zeros((3, 28, 28)), columns=0)
    with pytest.raises(ValueError, match="weights"):
        weights_sheet_html(np.zeros((28, 28)))
    with pytest.raises(ValueError, match="columns"):
        weights_sheet_html(np.zeros((3, 28, 28)), columns=0)


def test_the_lectures_64_units_make_an_8x8_grid_of_their_values():
    values = np.linspace(-1, 1, 64).astype(np.float32)
    block = unit_grid_html(values)
    assert "repeat(8," in block
    titles = re.findall(r'title="unit (\d+): ([+-][\d.]+)"', block)
    assert [int(unit) for unit, _ in titles] == list(range(64))
    np.testing.assert_allclose([float(value) for _, value in titles], values, atol=1e-3)
    assert activations_html(values) == block


def test_feature_maps_are_one_image_per_channel():
    maps = np.random.default_rng(0).random((7, 7, 5)).astype(np.float32)
    images = pictures(feature_maps_html(maps, columns=5))
    assert len(images) == 5 and images[0].shape == (7, 7, 3)
    assert activations_html(maps) == feature_maps_html(maps)


@pytest.mark.parametrize("shape", [(3, 64), (7, 7), (1, 7, 7, 5)])
def test_activations_of_another_shape_are_a_value_error(shape):
    with pytest.raises(ValueError, match="activations"):
        activations_html(np.zeros(shape))


def test_probability_bars_are_as_long_as_the_probabilities_and_the_top_one_stands_out():
    probabilities = np.array([0.05, 0.0, 0.7, 0.25, 0, 0, 0, 0, 0, 0])
    block = probabilities_html(probabilities, width=200)
    lengths = [int(width) for width in re.findall(r"width:(\d+)px;height:12px", block)]
    assert lengths == [10, 0, 140, 50, 0, 0, 0, 0, 0, 0]
    assert re.findall(r"font-weight:700\">(\d)<", block) == ["2"]
    assert "70.0%" in block
