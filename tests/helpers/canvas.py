"""The Draw page's canvas as the tests see it: drawings recorded from the real canvas in Chromium
(canvas_recordings.json, with how they were recorded), and strokes as the canvas would send them."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
from PIL import Image

from core.drawing.strokes import canvas_json
from helpers.paths import ROOT

RECORDINGS = ROOT / "tests" / "helpers" / "canvas_recordings.json"


def recorded(name: str) -> tuple[dict, np.ndarray]:
    """("drawn" or "edited") -> (the canvas's json_data, (280, 280) bool: where Chromium painted ink)."""
    recording = json.loads(RECORDINGS.read_text())[name]
    png = base64.b64decode(recording["painted"].split(",", 1)[1])
    return recording["json"], np.asarray(Image.open(io.BytesIO(png)).convert("L")) > 127


def canvas_state(strokes: list[dict]) -> dict:
    """The canvas component's state (what st_canvas reads back) after the pen drew ``strokes``
    ({"width", "points"} in canvas pixels), with return_image_data=False."""
    return {"drawing": {"raw": canvas_json(strokes), "data": None}}
