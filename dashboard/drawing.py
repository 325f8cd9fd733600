"""The Draw page's parts: a drawing pad that sends its strokes as the pen lifts, the guess, and why.

The pad is a small Streamlit component (a plain <canvas>): it sends the strokes,
a few hundred numbers, the moment the pen lifts. streamlit-drawable-canvas, used
before, waits 200 ms after each stroke before it sends anything (its frontend
debounces every update) and sent the whole picture as a PNG besides. From pen up
to the guess shown (bench/draw_latency.py, Intel Xeon, 2 cores, shared and busy):
260-270 ms at the median with it, 70-95 ms with this pad. The server draws the
strokes back into pixels (core.preprocess.rasterize_strokes, under 1 ms).
"""

from __future__ import annotations

import functools
import html
from typing import Callable, Literal, NamedTuple

import numpy as np
import streamlit as st

from core.handwriting import ClassDigits, count_text
from core.predict import predict_drawing
from core.preprocess import CANVAS_SIZE, rasterize_strokes
from dashboard import explain_blocks, html_blocks

BLANK_MESSAGE = "Draw a digit in the black square: the model reads it each time you lift the pen."
EXPLAIN_CLASS = "draw_explain_class"  # st.session_state key: the class the saliency map explains (None: the guess)
MEANT_LABEL, SAVE_LABEL, UNDO_LABEL = "Which digit did you mean?", "Save to the class set", "Undo"

# One pad per key; its state survives reruns, so the strokes drawn stay on it.
# Each stroke goes out as {"width": pen width, "points": [x0, y0, x1, y1, ...]} in canvas pixels.
PAD_JS = """
const pads = new WeakMap();  // parentElement -> this pad's state, kept across reruns

export default function ({ data, parentElement, setStateValue }) {
  let pad = pads.get(parentElement);
  if (!pad) {
    pad = start(parentElement.querySelector("canvas"), data.size);
    pads.set(parentElement, pad);
  }
  pad.penWidth = data.pen_width;
  pad.send = (strokes) => setStateValue("strokes", strokes);
}

function start(canvas, size) {
  const pad = { penWidth: 18, send: null, strokes: [], current: null };
  const ratio = window.devicePixelRatio || 1;  // sharp lines on high-density screens
  canvas.width = canvas.height = Math.round(size * ratio);
  const context = canvas.getContext("2d");
  context.scale(ratio, ratio);
  context.lineCap = context.lineJoin = "round";
  context.strokeStyle = context.fillStyle = "#fff";
  const at = (event) => {  // the pointer in canvas pixels, to a tenth of a pixel
    const box = canvas.getBoundingClientRect();
    return [Math.round((event.clientX - box.left) * size / box.width * 10) / 10,
            Math.round((event.clientY - box.top) * size / box.height * 10) / 10];
  };
  canvas.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    canvas.setPointerCapture(event.pointerId);
    const [x, y] = at(event);
    pad.current = { width: pad.penWidth, points: [x, y] };
    context.beginPath();
    context.arc(x, y, pad.penWidth / 2, 0, 2 * Math.PI);
    context.fill();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!pad.current) return;
    const points = pad.current.points;
    const [x, y] = at(event);
    const [lastX, lastY] = points.slice(-2);
    if (Math.hypot(x - lastX, y - lastY) < 1) return;  // under a pixel: nothing to draw or send
    points.push(x, y);
    context.lineWidth = pad.current.width;
    context.beginPath();
    context.moveTo(lastX, lastY);
    context.lineTo(x, y);
    context.stroke();
  });
  const lift = () => {
    if (!pad.current) return;
    pad.strokes.push(pad.current);
    pad.current = null;
    pad.send(pad.strokes.slice());
  };
  canvas.addEventListener("pointerup", lift);
  canvas.addEventListener("pointercancel", lift);
  return pad;
}
"""
PAD_CSS = "canvas { display: block; background: #000; border-radius: 6px; touch-action: none; cursor: crosshair; }"


class Reading(NamedTuple):
    """What the model made of a drawing."""

    digit: np.ndarray  # (28, 28) float32 in [0, 1]: what the model sees
    probabilities: np.ndarray  # (10,)
    guess: int


@functools.cache
def _pad_component():
    """Registered once per process; Streamlit puts it on each running app when it is first mounted."""
    return st.components.v2.component(
        "mnist_classroom.drawing_pad", js=PAD_JS, css=PAD_CSS,
        html=f'<canvas style="width:{CANVAS_SIZE}px;height:{CANVAS_SIZE}px" aria-label="drawing pad"></canvas>',
    )


def drawing_pad(pen_width: int, key: str) -> list[dict]:
    """A CANVAS_SIZE-pixel black square to draw on in white; the strokes drawn so far, [] before the first.

    A new ``key`` is a new, empty pad.
    """
    result = _pad_component()(
        data={"pen_width": pen_width, "size": CANVAS_SIZE}, key=key, default={"strokes": []},
        on_strokes_change=lambda: None,  # makes "strokes" a state of the pad, which its default needs
        width="content", height="content",
    )
    return result.get("strokes") or []


def show_prediction(model, strokes: list[dict]) -> Reading | None:
    """The guess for ``strokes`` (as drawing_pad returns them), its ten probabilities and the 28x28 input.

    Returns what was read, or None for a blank pad or strokes that cannot be read.
    """
    try:
        digit, probabilities = predict_drawing(model, rasterize_strokes(strokes)) if strokes else (None, None)
    except ValueError as error:
        st.error(f"This drawing cannot be read ({error}). Press Clear and draw again.")
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


class SaveNote(NamedTuple):
    """What became of this session's last drawing saved to the class set (core.handwriting)."""

    outcome: Literal["saved", "refused", "undone"]
    message: str
    drawing_id: str = ""  # the drawing saved, for Undo; "" for none


def ask_meant_digit(key: str, on_save: Callable, args: tuple) -> None:
    """Under the guess: which digit the student meant (the control ``key``), and a button that calls
    ``on_save(*args)`` once one is chosen."""
    meant = st.segmented_control(MEANT_LABEL, list(range(10)), key=key,
                                 help="Your drawing and the digit you meant join the class's handwriting: "
                                      "Evaluate measures any model on it, and Train can learn from it.")
    st.button(SAVE_LABEL, disabled=meant is None, on_click=on_save, args=args, key=f"{key}_save")


def save_to_class_set(digit: np.ndarray, label: int, student: str) -> SaveNote:
    """Add the (28, 28) digit the model saw, as ``label``, by ``student``; the note says how it went."""
    store = ClassDigits()
    try:
        saved = store.add(digit, label, student)
    except ValueError as error:  # the student's cap (ClassDigitsFull), or a drawing that cannot be kept
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
        st.warning(note.message)
        return
    st.success(note.message)
    if note.outcome == "saved":
        st.button(UNDO_LABEL, on_click=on_undo, key="draw_class_undo")


def show_explanations(model, reading: Reading) -> None:
    """Why the model says what it says: a saliency map for a class of the user's choice, and the hidden layers."""
    from core.explain import activations, saliency

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
