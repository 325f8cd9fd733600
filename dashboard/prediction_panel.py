"""The Draw page's answer: the guess for a drawing, its ten probabilities, what the model saw, and why."""

from __future__ import annotations

import hashlib
import html
import json
from typing import NamedTuple

import numpy as np
import streamlit as st

from core.model.predict import predict_canvas_json
from dashboard import explain_blocks, html_blocks
from dashboard.plain_text import escape

BLANK_MESSAGE = "Draw a digit in the black square: the model reads it each time you lift the pen."
NO_GUESS = "–"  # the Prediction shown before there is a digit to read
GUESS_WIDTH = 250  # pixels: the guess and its bars; beside the 280-pixel canvas on a 1024-pixel tablet too
SEEN_CAPTION = "What the model sees: 28×28, centred the way MNIST digits are"
EXPLAIN_CLASS = "draw_explain_class"  # st.session_state key: the class the saliency map explains (None: the guess)
GUESS_OPTION = "the guess"  # the select box's first option: explain whatever the model guessed


class Reading(NamedTuple):
    """What the model made of a drawing."""

    digit: np.ndarray  # (28, 28) float32 in [0, 1]: what the model sees
    probabilities: np.ndarray  # (10,)
    guess: int


def drawing_id(drawing: dict | None) -> str:
    """A short name for what the canvas's Fabric JSON ``drawing`` holds: another stroke, an Undo, another name."""
    return hashlib.blake2b(json.dumps(drawing, sort_keys=True, default=str).encode(), digest_size=6).hexdigest()


def show_prediction(model, drawing: dict | None) -> Reading | None:
    """The guess for the canvas's Fabric JSON ``drawing`` and its ten probabilities (``show_seen``: the input).

    Returns what was read, or None for a blank canvas or a drawing that cannot be read. A blank canvas shows
    the Prediction metric without a digit: the browser fetches a kind of element's code when it first shows
    one, and that took the session's first guess 0.7-1.2 s to appear instead of 0.3 s.
    """
    try:
        digit, probabilities = predict_canvas_json(model, drawing)
    except ValueError as error:
        st.error(f"This drawing cannot be read ({escape(error)}). Clear the canvas (its bin) and draw again.")
        return None
    if digit is None:
        st.metric("Prediction", NO_GUESS, delta="nothing drawn yet", delta_color="off", delta_arrow="off")
        st.info(BLANK_MESSAGE)
        return None
    guess = int(np.argmax(probabilities))
    st.metric("Prediction", str(guess), delta=f"{probabilities[guess]:.1%} confident",
              delta_color="off", delta_arrow="off")
    st.html(explain_blocks.probabilities_html(probabilities, width=180))
    return Reading(digit, probabilities, guess)


def show_seen(reading: Reading) -> None:
    """The 28x28 digit the model read."""
    st.html(html_blocks.gallery_html([reading.digit], [SEEN_CAPTION], columns=1, size=168), width="content")


def show_explanations(model, reading: Reading) -> None:
    """Why the model says what it says: a saliency map for a class of the user's choice, and the hidden layers."""
    from core.evaluation.explain import activations, saliency

    st.subheader("Why")
    pixels, layers = st.columns([1, 2])
    with pixels:
        # The labels never depend on the guess: Streamlit keeps a select box's choice by its label, so a label
        # such as "0 (the guess)" went stale when the next digit was read (issue 19: "lags the guess").
        choice = st.selectbox(
            "What makes this a ...", [None, *range(10)], key=EXPLAIN_CLASS,
            format_func=lambda option: GUESS_OPTION if option is None else str(option),
        )
        target = reading.guess if choice is None else int(choice)
        named = f"{target} (the guess)" if target == reading.guess else str(target)
        st.html(explain_blocks.saliency_html(
            reading.digit, saliency(model, reading.digit, target=target), size=196, label=named,
            caption=f"Each pixel's share in the score for {named} (integrated gradients from a black image).",
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
