"""The Draw page's way into the class's handwriting: which digit the student meant, Save, Undo."""

from __future__ import annotations

from typing import Callable, Literal, NamedTuple

import numpy as np
import streamlit as st

from core.classroom.class_set import ClassDigits, count_text
from dashboard import session
from dashboard.plain_text import escape

MEANT_LABEL, SAVE_LABEL, UNDO_LABEL = "Which digit did you mean?", "Save to the class set", "Undo"


class SaveNote(NamedTuple):
    """What became of this session's last drawing saved to the class set (core.classroom.class_set)."""

    outcome: Literal["saved", "refused", "undone"]
    message: str
    drawing_id: str = ""  # the drawing saved, for Undo; "" for none


def ask_meant_digit(key: str, on_save: Callable, args: tuple) -> None:
    """Under the guess: which digit the student meant (the control ``key``), and beside it a button that calls
    ``on_save(*args)`` once one is chosen."""
    with st.container(horizontal=True, vertical_alignment="bottom"):
        meant = st.segmented_control(MEANT_LABEL, list(range(10)), key=key,
                                     help="Your drawing and the digit you meant join the class's handwriting: "
                                          "Evaluate measures any model on it, and Train can learn from it.")
        st.button(SAVE_LABEL, disabled=meant is None, on_click=on_save, args=args, key=f"{key}_save")


def save_to_class_set(digit: np.ndarray, label: int, student: str) -> SaveNote:
    """Add the (28, 28) digit the model saw, as ``label``, by ``student``; the note says how it went. A student
    without a name is counted by this browser session (core.classroom.class_set's caps)."""
    store = ClassDigits()
    try:
        saved = store.add(digit, label, student, session=session.session_tag())
    except ValueError as error:  # a cap (ClassDigitsFull), or a drawing that cannot be kept
        return SaveNote("refused", str(error))
    except OSError as error:
        return SaveNote("refused", f"The drawing could not be saved ({error}). Check that {store.folder} is writable.")
    return SaveNote("saved", f"Saved as a {saved.label} — the class set now has {count_text(store.count())}.",
                    saved.id)


def undo_save(note: SaveNote, student: str) -> SaveNote:
    """Take the drawing of a "saved" note out of the class set again."""
    store = ClassDigits()
    try:
        store.delete(note.drawing_id, by=student)
    except (ValueError, OSError) as error:
        return SaveNote("refused", f"The drawing could not be removed: {error}.")
    return SaveNote("undone", f"Removed: the class set has {count_text(store.count())}.")


def show_save_note(note: SaveNote, on_undo: Callable) -> None:
    """The last save's confirmation (with Undo) or why it failed."""
    if note.outcome == "refused":
        st.warning(escape(note.message))
        return
    st.success(escape(note.message))
    if note.outcome == "saved":
        st.button(UNDO_LABEL, on_click=on_undo, key="draw_class_undo")
