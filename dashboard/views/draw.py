"""Draw: write a digit with the mouse; the active model reads it after every stroke."""

import streamlit as st

from core.models import preset
from core.store import ModelStore, StoreError
from core.training import TrainingDiverged, train
from dashboard import caches, drawing, session

ROUND = "draw_round"  # part of the canvas key: a new key is a fresh, empty canvas


def clear():
    st.session_state[ROUND] = st.session_state.get(ROUND, 0) + 1


def train_lecture():
    """Train the lecture's network here and now (a few seconds on the full set), save it, make it active."""
    _, data = session.dataset()
    bar = st.progress(0.0, text="Starting TensorFlow...")

    def report(progress):
        bar.progress(progress.fraction, text=f"Training the Lecture preset: epoch {progress.epoch}/{progress.epochs}")

    try:
        result = train(preset("lecture"), data, on_progress=report)
        store = ModelStore()
        info = store.save(store.unique_name("lecture"), result)
    except (ValueError, TrainingDiverged, StoreError, OSError) as error:
        st.error(f"Training the Lecture preset failed: {error}")
        return
    session.set_active_model(info.name)
    st.rerun()


@st.fragment
def canvas_and_guess(model, pen_width: int):
    """Only this part reruns on a stroke, so the guess comes back fast."""
    from streamlit_drawable_canvas import st_canvas  # only importable inside a running app

    left, right = st.columns([1, 1])
    with left:
        result = st_canvas(
            stroke_width=pen_width, stroke_color="#FFFFFF", background_color="#000000", width=280, height=280,
            drawing_mode="freedraw", update_streamlit=True, return_image_data=True,
            key=f"draw_canvas_{st.session_state.get(ROUND, 0)}",
        )
    with right:
        drawing.show_prediction(model, result.image_data)


def main():
    st.title("Draw")
    info = session.model_picker("draw_model")
    if info is None:
        st.info("No model is saved yet. Train the lecture's network now: a few seconds on the full set.")
        if st.button("Train the Lecture preset", type="primary"):
            train_lecture()
        return
    try:
        model = caches.load_model(info)
    except StoreError as error:
        st.error(f"{error}. Pick another model, or train a new one on the Train page.")
        return
    pen, clear_column = st.columns([3, 1], vertical_alignment="bottom")
    pen_width = pen.slider("Pen width", 5, 40, 18, key="draw_pen")
    clear_column.button("Clear", on_click=clear)
    canvas_and_guess(model, pen_width)


main()
