"""Draw: write a digit with the mouse, a pen or a finger; the active model reads it after every stroke, and shows
why."""

import streamlit as st

from core.model.config import preset
from core.model.store import StoreError
from dashboard import caches, canvas, class_set_panel, prediction_panel, session, training_view
from dashboard.plain_text import escape

ROUND = "draw_round"  # part of the canvas key: a new key is a fresh, empty canvas
NOTE = "draw_class_note"  # (the canvas round it is shown with, SaveNote) of the last save to the class set


def save(digit, meant_key: str):
    """Add the drawing to the class set as the digit chosen under ``meant_key``; a saved one clears the canvas."""
    note = class_set_panel.save_to_class_set(digit, st.session_state.get(meant_key), session.student_name())
    if note.outcome == "saved":
        st.session_state[ROUND] = st.session_state.get(ROUND, 0) + 1  # a fresh canvas for the next digit
    st.session_state[NOTE] = (st.session_state.get(ROUND, 0), note)


def undo():
    canvas_round, note = st.session_state[NOTE]
    st.session_state[NOTE] = (canvas_round, class_set_panel.undo_save(note, session.student_name()))


@st.fragment
def canvas_and_guess(model, pen_width: int):
    """Only this part reruns on a stroke: the guess is sent first, the explanations follow below it."""
    canvas_round = st.session_state.get(ROUND, 0)
    with st.container(horizontal=True, gap="medium"):  # side by side where they fit, else one below another
        with st.container(width="content", key=canvas.BOX):
            drawing = canvas.drawing_canvas(pen_width, key=f"draw_canvas_{canvas_round}")
        with st.container(width=prediction_panel.GUESS_WIDTH):
            reading = prediction_panel.show_prediction(model, drawing)
        if reading is not None:
            with st.container(width="content"):
                prediction_panel.show_seen(reading)
    note_round, note = st.session_state.get(NOTE, (None, None))
    if note_round == canvas_round:
        class_set_panel.show_save_note(note, on_undo=undo)
    if reading is not None:
        st.session_state[session.DRAWN_DIGIT] = reading.digit  # the star on Evaluate's embedding map
        meant_key = f"draw_meant_{prediction_panel.drawing_id(drawing)}"  # a changed drawing asks again
        class_set_panel.ask_meant_digit(meant_key, on_save=save, args=(reading.digit, meant_key))
        prediction_panel.show_explanations(model, reading)


def main():
    st.title("Draw")
    picker, pen = st.columns([3, 2], vertical_alignment="bottom")
    with picker:
        info = session.model_picker("draw_model")
    if info is None:
        if session.training_running():
            st.info("Training a network for you; it is used here as soon as it is saved.")
            training_view.live_view()
            return
        st.info("No model is saved yet. Train the lecture's network now: a few seconds on the full set.")
        if st.button("Train the Lecture preset", type="primary"):
            try:
                session.start_training(preset("lecture"))
            except ValueError as error:
                st.error(f"Training cannot start: {escape(error)}.")
                return
            st.rerun()
        if session.progress() is not None and session.progress().failed:
            st.error(escape(session.progress().message))
        return
    try:
        model = caches.drawing_model(info)
    except StoreError as error:
        st.error(f"{escape(error)}. Pick another model, or train a new one on the Train page.")
        return
    pen_width = pen.slider("Pen width", 5, 40, 18, key="draw_pen")
    canvas_and_guess(model, pen_width)
    canvas.toolbar_fixes()


main()
