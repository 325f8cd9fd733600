"""The Draw page's drawing pad: a plain <canvas> that sends its strokes the moment the pen lifts.

It is a small Streamlit component: it sends the strokes, a few hundred numbers, as the pen
lifts. streamlit-drawable-canvas, used before, waits 200 ms after each stroke before it sends
anything (its frontend debounces every update) and sent the whole picture as a PNG besides.
From pen up to the guess shown (bench/draw_latency.py, Intel Xeon, 2 cores, shared and busy):
260-270 ms at the median with it, 70-95 ms with this pad. The server draws the strokes back
into pixels (core.drawing.strokes.rasterize_strokes, under 1 ms). Works with mouse, pen and touch.
"""

from __future__ import annotations

import functools

import streamlit as st

from core.drawing.preprocess import CANVAS_SIZE

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
