"""What the tests share: fixtures (tiny synthetic digits, a private models folder, no network, ever),
digits and drawings, waiting for a run without sleeping, the dashboard's pages in Streamlit's AppTest,
and a fake training scheduler for the pages' tests (FakeScheduler)."""

from __future__ import annotations

import dataclasses
import html as htmllib  # the name html is this module's helper for a page's st.html blocks
import io
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Unpacked copies of the data files the tests load (core.data) go to a folder of this test session,
# which servers and workers started by the tests inherit; never the user's ~/.cache.
os.environ["MNIST_CACHE_DIR"] = tempfile.mkdtemp(prefix="mnist-classroom-tests-")

from core.data.mnist import MnistData  # noqa: E402
from core.training import scheduler  # noqa: E402
from core.training.loop import TrainingResult  # noqa: E402
from core.training.progress import Progress, RunHandle, RunState  # noqa: E402
from core.training.scheduler import STOPPED_IN_QUEUE, ScheduledJob  # noqa: E402

FULL_MNIST = Path(os.environ.get("MNIST_PATH") or ROOT.parent / "shared" / "data" / "mnist_data.npz")
APP = ROOT / "dashboard" / "app.py"
# How long a test waits for a training run before it fails: a bound for a hang, never a target. A cold
# worker imports TensorFlow in about 15 s on a busy 2-core Intel Xeon (Sapphire Rapids).
DEADLINE_SECONDS = 300


def make_digits(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Learnable fake digits: class k is a bright bar at row 4 + 2k, plus noise.

    Returns uint8 images (count, 28, 28) and uint8 labels (count,), every class present.
    """
    rng = np.random.default_rng(seed)
    labels = (np.arange(count) % 10).astype(np.uint8)
    rng.shuffle(labels)
    images = rng.integers(0, 40, size=(count, 28, 28)).astype(np.uint8)
    for index, label in enumerate(labels):
        row = 4 + 2 * int(label)
        images[index, row: row + 2, 4:24] = 255
    return images, labels


def make_tiny_data(train: int = 300, test: int = 100) -> MnistData:
    x_train, y_train = make_digits(train, seed=1)
    x_test, y_test = make_digits(test, seed=2)
    return MnistData(x_train, y_train, x_test, y_test, source="synthetic test digits")


# Data files, digits and drawings.

def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file: 0, 0, type 0x08 (unsigned bytes), ndim, big-endian uint32 sizes, then the bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(size.to_bytes(4, "big") for size in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def npz_bytes(data: MnistData) -> bytes:
    """``data`` as an npz file in the lecture's format (X_train, y_train, X_test, y_test)."""
    buffer = io.BytesIO()
    np.savez(buffer, X_train=data.x_train, y_train=data.y_train, X_test=data.x_test, y_test=data.y_test)
    return buffer.getvalue()


def ring_digit(radius: float = 7.0, width: float = 3.0) -> np.ndarray:
    """A (28, 28) float32 'zero' in [0, 1]: a ring around the centre, ``width`` pixels wide with soft edges."""
    rows, cols = np.indices((28, 28)) - 13.5
    return np.clip(width / 2 - np.abs(np.hypot(rows, cols) - radius), 0, 1).astype(np.float32)


def centre_of_mass(images: np.ndarray) -> np.ndarray:
    """(row, col) of the ink's centre: (28, 28) -> (2,), (N, 28, 28) -> (N, 2)."""
    rows, cols = np.indices(images.shape[-2:])
    total = images.sum(axis=(-2, -1))
    return np.stack([(images * rows).sum(axis=(-2, -1)) / total, (images * cols).sum(axis=(-2, -1)) / total],
                    axis=-1)


def aligned_correlation(first: np.ndarray, second: np.ndarray, shift: int = 1) -> float:
    """Correlation of two (28, 28) digits at the best whole-pixel shift of up to ``shift`` pixels each way.

    Centring shifts by whole pixels, so the same digit can land a pixel or two apart.
    """
    return max(
        np.corrcoef(first.ravel(), np.roll(second, (rows, cols), axis=(0, 1)).ravel())[0, 1]
        for rows in range(-shift, shift + 1) for cols in range(-shift, shift + 1)
    )


SEVEN = ((70, 60), (210, 60), (120, 230))  # a '7' on the 280x280 canvas: the bar, then down to the lower left


def stroke_canvas(strokes=SEVEN) -> np.ndarray:
    """(280, 280, 4) uint8 RGBA: white ``strokes`` (one polyline; none for a blank pad) drawn with an 18-pixel pen
    on black, as a drawing pad's picture."""
    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    if strokes:
        ImageDraw.Draw(canvas).line(list(strokes), fill=(255, 255, 255, 255), width=18, joint="curve")
    return np.asarray(canvas)


def seven_canvas() -> np.ndarray:
    """The 7 (SEVEN) as a drawing pad's picture."""
    return stroke_canvas(SEVEN)


def draw_png(path: Path, strokes=SEVEN) -> Path:
    """``stroke_canvas(strokes)`` saved as a PNG at ``path``, as a student would save a drawing."""
    Image.fromarray(stroke_canvas(strokes)).save(path)
    return path


# The last line `python -m core train` prints, for scripts to read.
RESULT_LINE = re.compile(r"^test_accuracy=(\d\.\d{4})$")


def run_cli(*args: str, models: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m core ARGS`` from the repository root, as from a plain shell: no network, no TF log setting."""
    env = {key: value for key, value in os.environ.items() if key not in ("MNIST_PATH", "TF_CPP_MIN_LOG_LEVEL")}
    env["MNIST_MODELS_DIR"] = str(models)
    completed = subprocess.run(
        [sys.executable, "-m", "core", *map(str, args)], cwd=ROOT, env=env, capture_output=True, timeout=timeout,
    )
    # Decoded by hand: text=True would turn the progress bar's carriage returns into newlines.
    return subprocess.CompletedProcess(
        completed.args, completed.returncode, completed.stdout.decode(), completed.stderr.decode(),
    )


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a connection fails at once, as on a machine without network."""

    def refuse(*args, **kwargs):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(autouse=True)
def private_models_dir(tmp_path, monkeypatch) -> Path:
    """Every test saves models into its own empty folder."""
    folder = tmp_path / "models"
    monkeypatch.setenv("MNIST_MODELS_DIR", str(folder))
    return folder


@pytest.fixture
def tiny_data() -> MnistData:
    return make_tiny_data()


@pytest.fixture
def tiny_npz(tmp_path, monkeypatch) -> Path:
    """The tiny data set as an npz in the lecture's format, and MNIST_PATH pointing at it."""
    path = tmp_path / "tiny_mnist.npz"
    path.write_bytes(npz_bytes(make_tiny_data()))
    monkeypatch.setenv("MNIST_PATH", str(path))
    return path


@pytest.fixture
def full_mnist_path() -> Path:
    if not FULL_MNIST.is_file():
        pytest.skip(f"full MNIST not found at {FULL_MNIST}; set MNIST_PATH to run this test")
    return FULL_MNIST


@pytest.fixture(scope="session")
def tiny_result():
    """One Lecture-preset model trained on the tiny digits, shared by every test that needs a saved model."""
    from core.model.config import preset
    from core.training.loop import train

    return train(preset("lecture").replace(epochs=2), make_tiny_data())


@pytest.fixture
def saved_model(tiny_result, private_models_dir) -> str:
    """The name of that model, saved in this test's own models folder."""
    from core.model.store import ModelStore

    ModelStore().save("tiny-lecture", tiny_result)
    return "tiny-lecture"


@pytest.fixture(scope="session")
def tiny_cnn_result():
    """A small CNN-preset model (ReLU, batch norm, pooling) trained on the tiny digits, shared by the tests."""
    from core.model.config import preset
    from core.training.loop import train

    config = preset("cnn").replace(conv_filters=(4, 8), hidden_units=(16,), batch_size=32, epochs=3, augment=False)
    return train(config, make_tiny_data())


@pytest.fixture(scope="session")
def full_mnist_data() -> MnistData:
    """The full MNIST set (MNIST_PATH), loaded once per test session; skips when it is missing."""
    from core.data.mnist import load_mnist

    if not FULL_MNIST.is_file():
        pytest.skip(f"full MNIST not found at {FULL_MNIST}; set MNIST_PATH to run this test")
    return load_mnist(FULL_MNIST)


@pytest.fixture(scope="session")
def full_lecture_result(full_mnist_data):
    """The Lecture preset trained on the full set, once per test session."""
    from core.model.config import preset
    from core.training.loop import train

    return train(preset("lecture"), full_mnist_data)


@pytest.fixture(scope="session")
def full_cnn_result(full_mnist_data):
    """The CNN preset trained on the full set, once per test session."""
    from core.model.config import preset
    from core.training.loop import train

    return train(preset("cnn"), full_mnist_data)


@pytest.fixture
def teacher_key(monkeypatch) -> str:
    """The teacher's passphrase of this test's class (MNIST_TEACHER_KEY)."""
    from core import classroom

    monkeypatch.setenv(classroom.TEACHER_KEY_VARIABLE, "owl-42")
    return "owl-42"


# Waiting for a run: on its Progress (core.training.RunHandle.wait), never by sleeping.

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


# The dashboard in Streamlit's AppTest, which runs the page scripts in this process.

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


# What the pad sends for a thick bar across the canvas, like the tiny set's digits.
BAR = [{"width": 20, "points": [40, 110, 140, 110, 240, 110]}]


def draw_on_pad(at: AppTest, strokes: list[dict]) -> AppTest:
    """As if the pen had drawn ``strokes`` on the Draw page's current pad (AppTest cannot run its JavaScript)."""
    pad_round = at.session_state["draw_round"] if "draw_round" in at.session_state else 0
    at.session_state[f"draw_pad_{pad_round}"] = {"strokes": strokes}
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


class FakeScheduler:
    """Stands in for the server's training scheduler (core.training.scheduler.server_scheduler) in the pages' tests.

    A page starts its run as always, a real ScheduledJob, but the job comes here, where nothing trains:
    the test says what happens next, and the page sees it on its next run. ``train(job, steps)`` publishes
    a Progress at that step; ``finish(job)`` saves a real small model (the session's tiny_result, given the
    run's config) in the run's store under a free name based on its save name and for its owner, as a
    worker does, then publishes the finished Progress; ``fail(job, message)`` ends the run with that
    message. The page's Stop ends a run that has trained steps as stopped, its model saved, and one that
    has not as stopped in the queue. Every run has STEPS_PER_EPOCH steps an epoch.

    So a page's test is quick and certain. What a real worker does (training, saving, the queue) is
    tested in test_scheduler.py, and one test per page that starts runs still trains for real.
    """

    STEPS_PER_EPOCH = 10

    def __init__(self, result: TrainingResult):
        self.result = result  # the model every finished run saves
        self.jobs: list[ScheduledJob] = []  # every run submitted, oldest first; a run's id is its place + 1

    def train(self, job: ScheduledJob, steps: int) -> None:
        """Publish that ``job`` has trained ``steps`` steps."""
        job.publish(self._progress(job, steps))

    def finish(self, job: ScheduledJob, stopped: bool = False) -> None:
        """Save the model for ``job`` and publish its last Progress: finished, or stopped when ``stopped``."""
        result = dataclasses.replace(self.result, config=job.config, stopped=stopped)
        saved = job.store.save_under_free_name(
            job.save_name, lambda name: job.store.save(name, result, overwrite=False, owner=job.owner))
        job.publish(self._progress(
            job, job.snapshot().step if stopped else self._total(job),
            state=RunState.STOPPED if stopped else RunState.FINISHED, stopped=stopped, eta_seconds=0.0,
            train_accuracy=result.train_accuracy, test_accuracy=result.test_accuracy, saved_as=saved.name))

    def fail(self, job: ScheduledJob, message: str) -> None:
        job.publish(dataclasses.replace(job.snapshot(), state=RunState.FAILED, message=message))

    # What a ScheduledJob asks of its scheduler: core.training.scheduler.TrainingScheduler's methods of these names.
    def submit(self, job: ScheduledJob) -> int:
        self.jobs.append(job)
        return len(self.jobs)

    def stop(self, run_id: int) -> None:
        job = self.jobs[run_id - 1]
        if job.snapshot().done:
            return
        if job.snapshot().step == 0:
            job.publish(dataclasses.replace(job.snapshot(), state=RunState.STOPPED, stopped=True,
                                             message=STOPPED_IN_QUEUE))
        else:
            self.finish(job, stopped=True)

    def queue_position(self, run_id: int) -> int:
        return 0

    def estimated_start_seconds(self, run_id: int) -> None:
        return None

    def worker_pid(self, run_id: int) -> None:
        return None

    def _total(self, job: ScheduledJob) -> int:
        return self.STEPS_PER_EPOCH * job.config.epochs

    def _progress(self, job: ScheduledJob, step: int, **changes) -> Progress:
        """A Progress of ``job`` at ``step``, its losses falling from 2.3 as a real run's do, with ``changes``."""
        fields = dict(
            state=RunState.TRAINING, step=step, total_steps=self._total(job), epochs=job.config.epochs,
            epoch=min(step // self.STEPS_PER_EPOCH + 1, job.config.epochs),
            batch_losses=tuple(2.3 / (1 + index / self.STEPS_PER_EPOCH) for index in range(step)),
            elapsed_seconds=step / 100, samples_per_second=3200.0, eta_seconds=(self._total(job) - step) / 100,
        )
        return Progress(**{**fields, **changes})


@pytest.fixture
def fake_scheduler(tiny_result, monkeypatch) -> FakeScheduler:
    """Runs started from a page in this test go to a FakeScheduler instead of the server's worker processes."""
    fake = FakeScheduler(tiny_result)
    monkeypatch.setattr(scheduler, "server_scheduler", lambda: fake)
    return fake
