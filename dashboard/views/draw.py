"""Draw: write a digit with the mouse; the active model reads it after every stroke, and shows why."""

import streamlit as st

from core.model.config import preset
from core.model.store import StoreError
from dashboard import caches, class_set_panel, drawing_pad, prediction_panel, session, training_view
from dashboard.plain_text import escape

ROUND = "draw_round"  # part of the canvas key: a new key is a fresh, empty canvas
NOTE = "draw_class_note"  # (the pad round it is shown with, SaveNote) of the last save to the class set


def clear():
    st.session_state[ROUND] = st.session_state.get(ROUND, 0) + 1


def save(digit, meant_key: str):
    """Add the drawing to the class set as the digit chosen under ``meant_key``; a saved one clears the pad."""
    note = class_set_panel.save_to_class_set(digit, st.session_state.get(meant_key), session.student_name())
    if note.outcome == "saved":
        clear()  # a fresh pad for the next digit
    st.session_state[NOTE] = (st.session_state.get(ROUND, 0), note)


def undo():
    pad_round, note = st.session_state[NOTE]
    st.session_state[NOTE] = (pad_round, class_set_panel.undo_save(note, session.student_name()))


@st.fragment
def canvas_and_guess(model, pen_width: int):
    """Only this part reruns on a stroke: the guess is sent first, the explanations follow below it."""
    pad_round = st.session_state.get(ROUND, 0)
    left, right = st.columns([1, 1])
    with left:
        # Clear is inside the fragment: it reruns only this part, as a stroke does. Outside, each Clear reran the
        # whole page and its sidebar, 40% of the server's work for a student drawing digit after digit
        # (bench/classroom.py, py-spy).
        st.button("Clear", on_click=clear)
        strokes = drawing_pad.drawing_pad(pen_width, key=f"draw_pad_{pad_round}")
    with right:
        note_round, note = st.session_state.get(NOTE, (None, None))
        if note_round == pad_round:
            class_set_panel.show_save_note(note, on_undo=undo)
        reading = prediction_panel.show_prediction(model, strokes)
        if reading is not None:
            st.session_state[session.DRAWN_DIGIT] = reading.digit  # the star on Evaluate's embedding map
            meant_key = f"draw_meant_{pad_round}_{len(strokes)}"  # a new stroke asks again
            class_set_panel.ask_meant_digit(meant_key, on_save=save, args=(reading.digit, meant_key))
    if reading is not None:
        prediction_panel.show_explanations(model, reading)


def main():
    st.title("Draw")
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
        model = caches.load_model(info)
    except StoreError as error:
        st.error(f"{escape(error)}. Pick another model, or train a new one on the Train page.")
        return
    pen, _ = st.columns([3, 1])
    pen_width = pen.slider("Pen width", 5, 40, 18, key="draw_pen")
    canvas_and_guess(model, pen_width)


main()
