"""The dashboard in Streamlit's AppTest (the page scripts run in this process), and waiting for a run on its
Progress, never by sleeping."""

from __future__ import annotations

import html as htmllib  # the name html is this module's helper for a page's st.html blocks
import json
import os
import re
import subprocess
import sys
from typing import Callable

import pytest
from streamlit.testing.v1 import AppTest

from core.training.progress import Progress, RunHandle
from helpers.canvas import canvas_state
from helpers.paths import APP, ROOT

# How long a test waits for a training run before it fails: a bound for a hang, never a target. A cold
# worker imports TensorFlow in about 15 s on a busy 2-core Intel Xeon (Sapphire Rapids).
DEADLINE_SECONDS = 300


def wait_for(job: RunHandle, until: Callable[[Progress], bool] = lambda progress: progress.done,
             what: str = "the run to end") -> Progress:
    """Block until the Progress of ``job`` (a TrainingJob or ScheduledJob) satisfies ``until``, and return it;
    fail naming ``what`` if the run ends first, or after DEADLINE_SECONDS (a hang)."""
    progress = job.wait(lambda progress: until(progress) or progress.done, DEADLINE_SECONDS)
    if not until(progress):
        pytest.fail(f"waited for {what} in vain: the run is {progress.state} at step {progress.step} "
                    f"({progress.message or 'no message'})")
    return progress


def run_to_the_end(at: AppTest) -> AppTest:
    """Wait for the AppTest session's run to end, then rerun the page once, as its next poll would."""
    wait_for(at.session_state["training_job"])
    return at.run()


def open_page(page: str, **session_state) -> AppTest:
    """A new session of the app on ``page`` ("lecture", "digits", "train", "evaluate", "draw" or "models"),
    with ``session_state`` set before that page runs; fails if the page raised."""
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    for key, value in session_state.items():
        at.session_state[key] = value
    at.switch_page(f"views/{page}.py").run()
    assert not at.exception, at.exception[0].message if at.exception else ""
    return at


def train_page(query: dict | None = None) -> AppTest:
    """A new session on the Train page, with ``query`` in the address bar as a shared link gives it."""
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.switch_page("views/train.py")
    at.query_params = dict(query or {})
    return at.run()


def lecture_page(step: str | None = None) -> AppTest:
    """A new session on the Lecture page (the app's first page), opened at ?step= ``step``."""
    at = AppTest.from_file(str(APP), default_timeout=120)
    if step is not None:
        at.query_params = {"step": step}
    return at.run()


def draw_page() -> AppTest:
    """A new session on the Draw page."""
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    return at.switch_page("views/draw.py").run()


# A thick bar across the canvas, like the tiny set's digits, as strokes in canvas pixels.
BAR = [{"width": 20, "points": [40, 110, 140, 110, 240, 110]}]


def draw_on_canvas(at: AppTest, strokes: list[dict]) -> AppTest:
    """As if the pen had drawn ``strokes`` on the Draw page's current canvas and the canvas had sent them, as Fabric's
    JSON (AppTest cannot run its JavaScript); [] as after the canvas's own Undo or Reset."""
    canvas_round = at.session_state["draw_round"] if "draw_round" in at.session_state else 0
    at.session_state[f"draw_canvas_{canvas_round}"] = canvas_state(strokes)
    return at.run()


def button(at: AppTest, label: str):
    """The page's button labelled ``label``."""
    return next(widget for widget in at.button if widget.label == label)


def metrics(at: AppTest) -> dict[str, str]:
    """An AppTest page's metrics, label -> value."""
    return {metric.label: metric.value for metric in at.metric}


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def html(at: AppTest) -> str:
    """Every st.html block of the page, joined."""
    return " ".join(block.value for block in at.get("html"))


def code_blocks(at: AppTest) -> list[tuple[str, str]]:
    """The page's code blocks (dashboard.html_blocks.code_html), in order: (language, the text shown)."""
    found = re.findall(r'<pre class="code-block" data-language="(\w+)"[^>]*><code>(.*?)</code></pre>', html(at),
                       flags=re.DOTALL)
    return [(language, htmllib.unescape(re.sub(r"<[^>]+>", "", body))) for language, body in found]


def app_in_a_fresh_interpreter(lines: str) -> list:
    """Run ``lines`` (Python that may use AppTest, APP and json, and prints one JSON list last) in a new
    interpreter, for what this one cannot show any more, such as which modules a page imports."""
    script = f"import json, sys\nfrom streamlit.testing.v1 import AppTest\nAPP = {str(APP)!r}\n{lines}"
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                              cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout.strip().splitlines()[-1])
