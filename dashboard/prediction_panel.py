"""The Draw page's answer: the guess for a drawing, its ten probabilities, what the model saw, and why."""

from __future__ import annotations

import html
from typing import NamedTuple

import numpy as np
import streamlit as st

from core.drawing.strokes import rasterize_strokes
from core.model.predict import predict_drawing
from dashboard import explain_blocks, html_blocks
from dashboard.plain_text import escape

BLANK_MESSAGE = "Draw a digit in the black square: the model reads it each time you lift the pen."
EXPLAIN_CLASS = "draw_explain_class"  # st.session_state key: the class the saliency map explains (None: the guess)


class Reading(NamedTuple):
    """What the model made of a drawing."""

    digit: np.ndarray  # (28, 28) float32 in [0, 1]: what the model sees
    probabilities: np.ndarray  # (10,)
    guess: int


def show_prediction(model, strokes: list[dict]) -> Reading | None:
    """The guess for ``strokes`` (as drawing_pad returns them), its ten probabilities and the 28x28 input.

    Returns what was read, or None for a blank pad or strokes that cannot be read.
    """
    try:
        digit, probabilities = predict_drawing(model, rasterize_strokes(strokes)) if strokes else (None, None)
    except ValueError as error:
        st.error(f"This drawing cannot be read ({escape(error)}). Press Clear and draw again.")
        return None
    if digit is None:
        st.info(BLANK_MESSAGE)
        return None
    guess = int(np.argmax(probabilities))
    st.metric("Prediction", str(guess), delta=f"{probabilities[guess]:.1%} confident",
              delta_color="off", delta_arrow="off")
    st.html(explain_blocks.probabilities_html(probabilities))
    st.html(html_blocks.gallery_html([digit], ["What the model sees: 28×28, centred the way MNIST digits are"],
                                     columns=1, size=168))
    return Reading(digit, probabilities, guess)


def show_explanations(model, reading: Reading) -> None:
    """Why the model says what it says: a saliency map for a class of the user's choice, and the hidden layers."""
    from core.evaluation.explain import activations, saliency

    st.subheader("Why")
    pixels, layers = st.columns([1, 2])
    with pixels:
        choice = st.selectbox(
            "What makes this a ...", [None, *range(10)], key=EXPLAIN_CLASS,
            format_func=lambda option: f"{reading.guess} (the guess)" if option is None else str(option),
        )
        target = reading.guess if choice is None else choice
        st.html(explain_blocks.saliency_html(
            reading.digit, saliency(model, reading.digit, target=target), size=196, label=str(target),
            caption=f"Each pixel's share in the score for {target} (integrated gradients from a black image).",
        ))
    with layers:
        for name, values in activations(model, reading.digit[None]):
            st.html(f'<div style="font-size:0.9rem;margin-bottom:4px">{html.escape(_layer_title(name, values[0]))}'
                    f"</div>{explain_blocks.activations_html(values[0])}")


def _layer_title(name: str, values: np.ndarray) -> str:
    if values.ndim == 1:
        return f"{name}: the {len(values)} hidden units (red: positive, blue: negative; hover for the value)"
    height, width, channels = values.shape
    return f"{name}: {channels} feature maps of {height}×{width}"
