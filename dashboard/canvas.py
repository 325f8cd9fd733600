"""Where a digit is drawn: streamlit-drawable-canvas's ``st_canvas`` as every drawing surface uses it, and
what this app changes about its toolbar.

The canvas (Fabric.js 7) sends its strokes, not a picture (``return_image_data=False``): Fabric's JSON, a
``Path`` per stroke, read by ``core.model.predict.predict_canvas_json``. It sends 200 ms after the pen
lifts (its fixed debounce), and at once after its toolbar's Undo, Redo and Reset, which act in the browser.

Its toolbar shows only while a mouse hovers over the canvas, and while hidden it still lies over a strip
of about 30x140 px at the canvas's top right, where a stroke starting draws nothing. ``toolbar_fixes``
puts a stylesheet into the canvas's shadow root (its styles are isolated from the page's): the hidden
toolbar lets strokes through, the shown one moves at once (not 0.1 s later) to above the canvas, into room
kept for it, touch screens (no hover) always show it with buttons a finger can hit, and its Edit and Send
buttons are gone (freedraw only; the canvas sends every stroke anyway).
"""

from __future__ import annotations

import json

import streamlit as st
from streamlit_drawable_canvas import st_canvas

from core.drawing.preprocess import CANVAS_SIZE

BOX = "draw_canvas_box"  # the container that holds a canvas: st.container(key=BOX)
TOUCH = "(hover: none), (any-pointer: coarse)"  # a screen without a mouse's hover
# The toolbar's height: 0.5rem padding + a card of 0.25rem padding around 0.9rem icons with 0.25rem padding,
# + 0.5rem; on touch screens the icons are 1.3rem with 0.45rem padding.
TOOLBAR_REM, TOUCH_TOOLBAR_REM = 2.9, 3.7
SHOWN = ".dc-root:hover > .dc-toolbar, .dc-toolbar:focus-within, .dc-toolbar[data-pinned=true]"  # its own rules
TOOLBAR_CSS = f"""
.dc-toolbar {{ pointer-events: none !important; }}
{SHOWN} {{ pointer-events: auto !important; top: -{TOOLBAR_REM}rem !important;
  transition: opacity .15s .1s !important; }}
.dc-icon-button[aria-label="Edit"], .dc-icon-button[aria-label="Update the app with this drawing"],
.dc-toolbar-separator {{ display: none !important; }}
@media {TOUCH} {{
  .dc-toolbar, {SHOWN} {{ opacity: 1 !important; pointer-events: auto !important;
    top: -{TOUCH_TOOLBAR_REM}rem !important; }}
  .dc-icon-button {{ padding: 0.45rem !important; }}
  .dc-icon-button svg {{ width: 1.3rem !important; height: 1.3rem !important; }}
}}
"""
# Runs once per browser tab: every canvas in a BOX container gets TOOLBAR_CSS in its shadow root, which
# Streamlit attaches just after the canvas enters the page, hence the retries on the next frames.
TOOLBAR_SCRIPT = """<script>
(() => {
  if (window.mnistCanvasToolbar) return;
  window.mnistCanvasToolbar = true;
  const css = %s;
  const patch = (tries) => {
    let missing = false;
    for (const host of document.querySelectorAll('.st-key-%s [data-testid="stBidiComponentIsolated"]')) {
      if (!host.shadowRoot) { missing = true; continue; }
      if (host.shadowRoot.querySelector('style[data-mnist-toolbar]')) continue;
      const style = document.createElement('style');
      style.dataset.mnistToolbar = '';
      style.textContent = css;
      host.shadowRoot.appendChild(style);
    }
    if (missing && tries > 0) requestAnimationFrame(() => patch(tries - 1));
  };
  new MutationObserver(() => patch(60)).observe(document.body, {childList: true, subtree: true});
  patch(60);
})();
</script>"""
# Room above the canvas for its toolbar, so that it never covers the controls above.
BOX_CSS = (f"<style>.st-key-{BOX} {{ padding-top: {TOOLBAR_REM}rem; }} "
           f"@media {TOUCH} {{ .st-key-{BOX} {{ padding-top: {TOUCH_TOOLBAR_REM}rem; }} }}</style>")


def toolbar_fixes() -> None:
    """Once per page that has a canvas: the room above it and the toolbar's stylesheet (see the module)."""
    st.html(BOX_CSS)
    st.html(TOOLBAR_SCRIPT % (json.dumps(TOOLBAR_CSS), BOX), unsafe_allow_javascript=True)


def drawing_canvas(pen_width: int, key: str) -> dict | None:
    """A CANVAS_SIZE-pixel black square to draw on in white with a round pen ``pen_width`` pixels wide, inside
    st.container(key=BOX); its Fabric JSON (None or no objects: nothing drawn). A new ``key``: a fresh canvas."""
    result = st_canvas(stroke_width=pen_width, stroke_color="#ffffff", background_color="#000000",
                       width=CANVAS_SIZE, height=CANVAS_SIZE, drawing_mode="freedraw",
                       return_image_data=False, key=key)
    return result.json_data
