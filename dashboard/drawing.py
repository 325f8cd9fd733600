"""What the Draw page shows for one canvas image: the guess, every digit's probability, the 28x28 input."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.predict import predict_drawing
from dashboard import figures, html_blocks

BLANK_MESSAGE = "Draw a digit in the black square: the model reads it each time you lift the pen."


def show_prediction(model, image: np.ndarray | None) -> None:
    """image: the canvas as an (H, W, 4) uint8 RGBA array, or None before the first stroke."""
    try:
        digit, probabilities = (None, None) if image is None else predict_drawing(model, image)
    except ValueError as error:
        st.error(f"This drawing cannot be read ({error}). Press Clear and draw again.")
        return
    if digit is None:
        st.info(BLANK_MESSAGE)
        return
    top = int(np.argmax(probabilities))
    st.metric("Prediction", str(top), delta=f"{probabilities[top]:.1%} confident",
              delta_color="off", delta_arrow="off")
    st.plotly_chart(figures.probability_bars(probabilities), key="draw_probabilities")
    st.image(html_blocks.enlarge(digit, 6), width=168,
             caption="What the model sees: 28×28, centred the way MNIST digits are")
