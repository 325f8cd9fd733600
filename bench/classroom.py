"""A class on one server: students that speak Streamlit's protocol, one or more in real Chromium, and the server watched.

A student's browser runs on the student's own device; only the server's work grows with the class. So most
students here are protocol-level clients (harness/streamlit_client.py): a WebSocket each, in one asyncio loop
of this process, sending what a browser sends (the canvas's real value, harness/drawing_payloads.py)
and reading what the server answers. A few (--browsers, default 1) are real Chromium sessions, to measure
what a person sees painted. A fresh `streamlit run dashboard/app.py` is started (a saved Lecture model in a
temporary MNIST_MODELS_DIR), or --url drives a running server (--server-pid watches it when it is local).

Roles:
  drawing   Draw page: clear the canvas, draw a digit, pen up -> `Prediction`; the guess must be the digit drawn;
            --think seconds to draw the next. Protocol: pen up (the value sent) -> the Prediction's message
            arrives, the server's part. Chromium: pen up -> the Prediction painted (bench/draw_latency.py).
  browsing  moves between the pages through the sidebar, --think seconds on each: click -> its run ended.
  training  Train page: the Lecture preset as it comes (5 epochs), Start, and the live view to the end
            (answering its auto-reruns); the queue position must be shown while it waits.
  idle      opens the app and stays.
Every student, as it leaves, reads the sidebar: its own active model, never another's (the leak check).

Phases, one server:
  1. alone: one protocol student, then one Chromium student, each drawing --single-rounds digits alone:
     the references the class is compared with.
  2. idle: --idle students open the app and stay; what one session adds to the server's RSS.
  3. class: --students (--drawing, --training, --browsing, the rest idle) arrive within --arrive seconds
     and stay --minutes. The first page (connect -> the first page's run ended) is timed.
  then the memory report: the server and each child (training workers, the calibrator) separately, and
  the leak check: after the class has left, no more threads or children than before it.
  --soak MINUTES: after the class, students keep joining and leaving for MINUTES; the server's RSS at the end
     within SOAK_GROWTH of its RSS after the first class, and no child or thread left behind.
  --ramp: instead of the class, RAMP_STEP students at a time (two-thirds drawing) until the drawing p95
     passes TARGET_RATIO x alone or an error appears: prints max_class=N.

Targets (PASS/FAIL, exit 1 on FAIL): first page p95 <= 3 s; drawing p95 <= 2x alone (protocol: the server's
part; Chromium: painted); page change p95 <= 1 s; every run finished or shown with its queue position; every
drawing answered and read right; 0 errors; idle sessions <= 30 MB each; the client's CPU under 10% of the
machine; the leak check clean.

    MNIST_PATH=../shared/data/mnist_data.npz python bench/classroom.py \
        --students 30 --drawing 20 --training 5 --browsing 5 --minutes 3 [--json result.json]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import math
import multiprocessing
import os
import pathlib
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import psutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: no start-up chatter

import draw_latency  # noqa: E402
from streamlit.proto.Alert_pb2 import Alert  # noqa: E402
from streamlit.proto.WidgetStates_pb2 import WidgetState  # noqa: E402

from harness.drawing_payloads import BUILDERS, drawing_value, surface_size  # noqa: E402
from harness.live_server import CHROMIUM, CHROMIUM_ARGS, INSTALL_HINT, chromium_available, streamlit_server  # noqa: E402
from harness.streamlit_client import SIDEBAR, SessionError, StreamlitSession  # noqa: E402

Role = Literal["drawing", "training", "browsing", "idle"]
TARGET_RATIO = 2.0  # class p95 / alone p95, drawing
TARGET_FIRST_PAGE_S = 3.0  # first page p95, a class arriving within --arrive s (this project's 2-core machine)
TARGET_PAGE_CHANGE_S = 1.0  # page change p95
TARGET_IDLE_MB = 30.0  # server RSS growth per idle session
TARGET_CLIENT_SHARE = 0.10  # the bench's own CPU (protocol students, Chromium) / the machine's CPU time
SOAK_GROWTH = 0.10  # the server's RSS after the soak / after the first class - 1
SESSION_TTL_S = 120.0  # Streamlit keeps a left session this long (server.disconnectedSessionTTL, its default)
RAMP_STEP = 10  # students added per ramp step: RAMP_ROLES of them
RAMP_ROLES: tuple[Role, ...] = ("drawing",) * 7 + ("browsing",) * 2 + ("training",)  # two-thirds drawing
STEP_TIMEOUT_S = 120.0  # one page run or one answer: longer than this is an error, not a figure
TRAINING_GRACE_S = 300.0  # a run may finish this long after the class ends; later, it counts as unfinished
CLIENT_NICENESS = 10  # os.nice of the Chromium students (their Playwright drivers and browsers)
SAMPLE_SECONDS = 0.5  # the monitor's period
SETTLE_SECONDS = 3.0  # the median RSS over this long is one reading of a settled server...
SETTLE_MB = 2.0  # ... once two readings in a row are this close ...
SETTLE_LIMIT_S = 60.0  # ... or this long has passed
PAGES = ["Lecture", "Digits", "Train", "Evaluate", "Draw", "Models"]  # the sidebar's links, each page's title
SHAPES = list(draw_latency.DIGITS.items())  # (digit, one-stroke polyline in the unit square)
MOUSE_STEPS = 8  # points per polyline segment, as bench/draw_latency.py moves the mouse
POOL_THREADS = {"AnyIO worker thread", "ThreadPoolExecutor"}  # thread_names' pools (see memory_report)
CHILD_LABELS = {"core.training.scheduler:serve_runs": "training worker",
                "core.training.estimate:serve_calibrations": "calibrator"}
QUEUE_TEXT = "Waiting in the queue"  # dashboard/training_view.py, while a run waits for a worker
DONE_METRIC = "Accuracy on test data"  # dashboard/training_view.py, once a run has finished


@dataclass
class Student:
    index: int
    role: Role
    browser: bool = False  # a real Chromium session (drawing only) instead of a protocol client
    arrive_s: float = 0.0  # seconds after the phase starts
    stay_s: float | None = None  # leave this long after arriving (the soak); None: when the phase ends
    rounds: int | None = None  # stop drawing after this many (the alone phase)


@dataclass
class StudentResult:
    index: int
    role: Role
    browser: bool = False
    first_page_s: float | None = None
    answers: list[tuple[float, float]] = field(default_factory=list)  # (s since the phase began, ms pen up -> answer)
    painted_ms: list[float] = field(default_factory=list)  # Chromium: pen up -> Prediction painted
    misread: list[str] = field(default_factory=list)  # "drew 7, read 1"
    page_ms: dict[str, list[float]] = field(default_factory=dict)  # page title -> click -> its run ended
    training: list[dict] = field(default_factory=list)  # {"wall_s", "queued_s", "queue_shown", "saved_as"}
    unfinished_runs: int = 0
    unfinished_without_queue: int = 0  # unfinished runs that never showed their place in the queue
    errors: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)


def stroke_points(shape, size: float) -> list[tuple[float, float]]:
    """A polyline in the unit square as the mouse draws it on a ``size`` px canvas: MOUSE_STEPS points a segment."""
    points = [(shape[0][0] * size, shape[0][1] * size)]
    for (x0, y0), (x1, y1) in zip(shape, shape[1:]):
        points += [((x0 + (x1 - x0) * step / MOUSE_STEPS) * size, (y0 + (y1 - y0) * step / MOUSE_STEPS) * size)
                   for step in range(1, MOUSE_STEPS + 1)]
    return points


def active_model(texts: list[str]) -> str | None:
    """The active model's name in the sidebar's texts (dashboard/sidebar.py), None if it names none."""
    for text in texts:
        found = re.search(r"\*\*Active model:\*\* (\S+) \(", text)
        if found:
            return found.group(1)
    return None


# ----- protocol students -----

async def pause(leave: asyncio.Event, seconds: float) -> None:
    """A person's pause (drawing the next digit, reading a page), cut short when the student must leave."""
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(leave.wait(), seconds)


def drawing_surface(student: StreamlitSession):
    """The Draw page's canvas as the student last received it: (its element, the fragment that drew it)."""
    surfaces = [shown for shown in student.find_all("bidi_component")
                if shown.element.bidi_component.component_name in BUILDERS]
    if not surfaces:
        raise SessionError(f"no drawing surface on the Draw page (known: {', '.join(BUILDERS)})")
    return surfaces[-1].element.bidi_component, surfaces[-1].fragment_id


async def draw_digit(student: StreamlitSession, digit: str, shape) -> tuple[float, str]:
    """Clear the canvas (its toolbar's Reset: a state with no strokes), then draw ``shape`` on it; (ms from pen up
    to the Prediction's arrival, guess).

    Pen up is the moment the canvas's value is sent; the answer is the message that carries the
    Prediction metric. The run goes on to the explanations; this waits for its end, as a student who reads them.
    """
    surface, fragment_id = drawing_surface(student)
    data = json.loads(surface.json or surface.mixed.json)
    cleared = await student.send_widget(
        WidgetState(id=surface.id, json_value=drawing_value(surface.component_name, data, [])), fragment_id)
    await student.wait_finished(cleared, fragment_id, STEP_TIMEOUT_S)
    surface, fragment_id = drawing_surface(student)
    size, _pen = surface_size(surface.component_name, data)
    value = drawing_value(surface.component_name, data, [stroke_points(shape, size)])
    sent = time.perf_counter()
    mark = await student.send_widget(WidgetState(id=surface.id, json_value=value), fragment_id)
    answer = await student.wait_for(
        lambda: next((shown for shown in student.find_all("metric", "Prediction") if shown.sequence > mark), None),
        STEP_TIMEOUT_S, what="the Prediction")
    await student.wait_finished(mark, fragment_id, STEP_TIMEOUT_S)
    return (answer.received - sent) * 1000, answer.element.metric.body


async def drawing(student: StreamlitSession, who: Student, result: StudentResult, leave: asyncio.Event,
                  think: float, epoch: float) -> None:
    result.page_ms.setdefault("Draw", []).append(await student.go_to("Draw") * 1000)
    if who.rounds is not None:  # alone, the reference: the server's first guess (TensorFlow's first call) not timed
        await draw_digit(student, *SHAPES[0])
    count = 0
    while not leave.is_set() and (who.rounds is None or count < who.rounds):
        digit, shape = SHAPES[(who.index + count) % len(SHAPES)]
        milliseconds, guess = await draw_digit(student, digit, shape)
        result.answers.append((time.perf_counter() - epoch, milliseconds))
        if guess != digit:
            result.misread.append(f"drew {digit}, read {guess}")
        count += 1
        await pause(leave, think)


async def browsing(student: StreamlitSession, who: Student, result: StudentResult, leave: asyncio.Event,
                   think: float) -> None:
    step = who.index
    while not leave.is_set():
        title = PAGES[step % len(PAGES)]
        step += 1
        if title == student.title():
            continue
        result.page_ms.setdefault(title, []).append(await student.go_to(title) * 1000)
        await pause(leave, think)


async def training(student: StreamlitSession, result: StudentResult, leave: asyncio.Event, ends: float) -> str | None:
    """Start the Lecture preset as the Train page offers it, follow its live view; the saved name or None."""
    result.page_ms.setdefault("Train", []).append(await student.go_to("Train") * 1000)
    started = time.perf_counter()
    mark = student.mark()
    await student.click("Start")
    queued: list[float] = []  # when the queue text was seen

    def outcome():
        shown = student.texts()
        if any(QUEUE_TEXT in text for text in shown):
            queued.append(time.perf_counter())
        metric = next((item for item in student.find_all("metric", DONE_METRIC) if item.sequence > mark), None)
        failed = next((item for item in student.find_all("alert") if item.sequence > mark
                       and item.element.alert.format == Alert.ERROR), None)  # the run failed: already an error
        return metric or failed

    try:
        await student.wait_for(outcome, max(ends - time.perf_counter(), 0) + TRAINING_GRACE_S, what="the run's end")
    except SessionError:
        result.unfinished_runs += 1
        result.unfinished_without_queue += not queued
        return None
    if not student.find_all("metric", DONE_METRIC):
        result.unfinished_runs += 1
        return None
    try:  # the accuracy comes first; the name the model was saved under follows it
        saved = await student.wait_for(lambda: next((re.search(r"Saved as \*\*(\S+?)\*\*", text) for text in
                                                     student.texts() if text.startswith("Saved as")), None),
                                       STEP_TIMEOUT_S, what="the saved model's name")
    except SessionError:
        saved = None
    result.training.append({"wall_s": time.perf_counter() - started, "queue_shown": bool(queued),
                            "queued_s": (queued[-1] - queued[0]) if queued else 0.0,
                            "saved_as": saved.group(1) if saved else None})
    return saved.group(1) if saved else None


async def protocol_student(base_url: str, who: Student, think: float, epoch: float, ends: float,
                           leave: asyncio.Event, result: StudentResult | None = None) -> StudentResult:
    """One student from arrival to leaving; every failure is this student's error, never the bench's end.

    result : where to record, for a caller that reads it while the student is still there (the ramp)."""
    result = result or StudentResult(who.index, who.role)
    await asyncio.sleep(max(0.0, epoch + who.arrive_s - time.perf_counter()))
    own_leave = leave
    if who.stay_s is not None:  # the soak: leave after stay_s, or with everyone
        own_leave = asyncio.Event()
        asyncio.get_running_loop().call_later(who.stay_s, own_leave.set)
        relay = asyncio.ensure_future(_relay(leave, own_leave))
    student = StreamlitSession(base_url, timeout=STEP_TIMEOUT_S)
    try:
        result.first_page_s = await student.open()
        expected = active_model(student.texts(SIDEBAR))
        if who.role == "drawing":
            await drawing(student, who, result, own_leave, think, epoch)
        elif who.role == "browsing":
            await browsing(student, who, result, own_leave, think)
        elif who.role == "training":
            expected = await training(student, result, own_leave, ends) or expected
        if who.rounds is None:  # stay until the class ends (a student with a number of drawings leaves after them)
            await own_leave.wait()
        await student.go_to("Lecture")  # a full run: the sidebar as it is now
        shown = active_model(student.texts(SIDEBAR))
        if shown != expected:
            result.leaks.append(f"student {who.index} ({who.role}): active model {shown!r}, expected {expected!r}")
    except SessionError as error:
        result.errors.append(f"{who.role}: {error}")
    finally:
        await student.close()
        result.errors += student.errors
        if who.stay_s is not None:
            relay.cancel()
    return result


async def _relay(source: asyncio.Event, target: asyncio.Event) -> None:
    await source.wait()
    target.set()


# ----- Chromium students, in worker processes -----

def browser_student(base_url: str, who: Student, think: float, epoch_wall: float, ends_wall: float) -> dict:
    """One drawing student in its own headless Chromium (this process), as bench/draw_latency.py draws."""
    from playwright.sync_api import sync_playwright

    os.nice(CLIENT_NICENESS)  # the browser would run on the student's device; here it yields to the server
    result = StudentResult(who.index, who.role, browser=True)
    time.sleep(max(0.0, epoch_wall + who.arrive_s - time.time()))
    with sync_playwright() as playwright:
        browser = None
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            page.set_default_timeout(STEP_TIMEOUT_S * 1000)
            page.add_init_script(draw_latency.ANSWER_HOOK)
            opened = time.time()
            page.goto(f"{base_url}/draw")
            page.locator("canvas").last.wait_for(timeout=STEP_TIMEOUT_S * 1000)
            result.first_page_s = time.time() - opened
            draw_latency.one_round(page, SHAPES[0][1])  # warm-up: this page's first guess, not timed
            count = 0
            while (who.rounds is None and time.time() < ends_wall) or (who.rounds is not None and count < who.rounds):
                digit, shape = SHAPES[(who.index + count) % len(SHAPES)]
                painted, guess = draw_latency.one_round(page, shape)
                answered = draw_latency.answered_ms(page)
                result.painted_ms.append(painted)
                result.answers.append((time.time() - epoch_wall, answered if answered is not None else painted))
                if guess != digit:
                    result.misread.append(f"drew {digit}, read {guess}")
                count += 1
                time.sleep(think)
            result.errors += [f"st.error: {text[:200]}" for text in
                              page.locator('[data-testid="stAlertContentError"]').all_inner_texts()]
        except Exception as error:  # a timeout or a missing element: this student's error
            result.errors.append(f"Chromium: {type(error).__name__}: {str(error).splitlines()[0][:200]}")
        finally:
            if browser is not None:
                browser.close()
    return asdict(result)


def _browser_process(base_url, who, think, epoch_wall, ends_wall, results) -> None:
    results.put(browser_student(base_url, who, think, epoch_wall, ends_wall))


async def run_students(base_url: str, students: list[Student], think: float, seconds: float | None,
                       leave: asyncio.Event | None = None, epoch: float | None = None) -> list[StudentResult]:
    """Run ``students`` (arriving at their arrive_s) until ``seconds`` have passed or ``leave`` is set."""
    epoch = time.perf_counter() if epoch is None else epoch
    leave = leave or asyncio.Event()
    ends = epoch + (seconds if seconds is not None else 10 ** 6)
    if seconds is not None:
        asyncio.get_running_loop().call_later(max(0.0, ends - time.perf_counter()), leave.set)
    context = multiprocessing.get_context("spawn")  # never fork a process that may hold TensorFlow
    queue, browsers = context.Queue(), []
    wall_offset = time.time() - time.perf_counter()
    for who in (student for student in students if student.browser):
        process = context.Process(target=_browser_process, args=(base_url, who, think, epoch + wall_offset,
                                                                 ends + wall_offset, queue))
        process.start()
        browsers.append(process)
    tasks = [protocol_student(base_url, who, think, epoch, ends, leave) for who in students if not who.browser]
    results = list(await asyncio.gather(*tasks))
    loop = asyncio.get_running_loop()
    for _ in browsers:
        results.append(StudentResult(**await loop.run_in_executor(None, queue.get)))
    for process in browsers:
        process.join()
    return results


# ----- the server, watched -----

class Monitor(threading.Thread):
    """Samples the server process (RSS, threads), each of its children (RSS, by label) and the CPU of the
    server's side and the client's side (this process and its children that are not the server's)."""

    def __init__(self, server_pid: int | None):
        super().__init__(daemon=True)
        self.server = psutil.Process(server_pid) if server_pid else None
        self.lock = threading.Lock()
        self.cpu: dict[int, tuple[str, float]] = {}  # pid -> ("server" | "children" | "client", CPU s last seen)
        self.samples: list[dict] = []  # {"t", "server_mb", "children": {pid: (label, mb)}, "threads"}
        self.stopping = threading.Event()

    def run(self) -> None:
        me = psutil.Process()
        while not self.stopping.wait(SAMPLE_SECONDS):
            sample = {"t": time.perf_counter(), "server_mb": None, "children": {}, "threads": None}
            server_tree = []
            if self.server is not None:
                with contextlib.suppress(psutil.Error):  # a process that ended meanwhile: this sample goes without it
                    server_tree = [self.server, *self.server.children(recursive=True)]
                    sample["server_mb"] = self.server.memory_info().rss / 2 ** 20
                    sample["threads"] = self.server.num_threads()
                    for child in server_tree[1:]:
                        sample["children"][child.pid] = (child_label(child), child.memory_info().rss / 2 ** 20)
            server_pids = {process.pid for process in server_tree}
            client = [me, *(process for process in me.children(recursive=True) if process.pid not in server_pids)]
            with self.lock:
                for side, processes in (("server", server_tree[:1]), ("children", server_tree[1:]),
                                        ("client", client)):
                    for process in processes:
                        try:
                            times = process.cpu_times()
                        except psutil.Error:
                            continue
                        self.cpu[process.pid] = (side, times.user + times.system)
                self.samples.append(sample)

    def cpu_seconds(self) -> dict[str, float]:
        with self.lock:
            totals = {"server": 0.0, "children": 0.0, "client": 0.0}
            for side, seconds in self.cpu.values():
                totals[side] += seconds
            return totals

    def since(self, start: float) -> list[dict]:
        with self.lock:
            return [sample for sample in self.samples if sample["t"] >= start]

    def settled(self) -> dict:
        """The server once its RSS has settled (the medians of two SETTLE_SECONDS windows in a row within
        SETTLE_MB, at most SETTLE_LIMIT_S): the later median, its threads, its children."""
        medians, deadline = [], time.perf_counter() + SETTLE_LIMIT_S
        while True:
            start = time.perf_counter()
            time.sleep(SETTLE_SECONDS)
            samples = [sample for sample in self.since(start) if sample["server_mb"] is not None]
            if not samples:
                return {"server_mb": None, "threads": None, "children": {}, "thread_names": None}
            medians.append(statistics.median(sample["server_mb"] for sample in samples))
            if (len(medians) >= 2 and abs(medians[-1] - medians[-2]) <= SETTLE_MB) or time.perf_counter() > deadline:
                return {"server_mb": medians[-1], "threads": samples[-1]["threads"], "children": samples[-1]["children"],
                        "thread_names": thread_names(self.server.pid)}


def thread_names(pid: int) -> collections.Counter | None:
    """The server's Python threads by name (py-spy dump), pools and per-worker readers folded into one name
    each; None when py-spy cannot look (not installed, or not allowed to)."""
    try:
        dump = subprocess.run(["py-spy", "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if dump.returncode != 0:
        return None
    names = re.findall(r'^Thread \S+ \([^)]*\): "([^"]*)"', dump.stdout, flags=re.MULTILINE)
    return collections.Counter(re.sub(r"(-\d+)+(_\d+)?$", "", name) for name in names)


def child_label(process: psutil.Process) -> str:
    try:
        command = " ".join(process.cmdline())
    except psutil.Error:
        return "child"
    return next((label for target, label in CHILD_LABELS.items() if target in command), "child")


# ----- the phases -----

def class_plan(args, rng: random.Random) -> list[Student]:
    """--students: the roles (the first --browsers drawing students in Chromium), arriving within --arrive s."""
    roles: list[Role] = (["drawing"] * args.drawing + ["training"] * args.training + ["browsing"] * args.browsing
                         + ["idle"] * (args.students - args.drawing - args.training - args.browsing))
    students = [Student(index, role, arrive_s=rng.uniform(0, args.arrive)) for index, role in enumerate(roles)]
    for student in students[: args.browsers]:
        student.browser = True
    return students


def drawing_figures(results: list[StudentResult], start: float = 0.0, end: float = math.inf) -> dict:
    """p50/p95 of the answers in [start, end) s of the phase: protocol (the server's part) and Chromium (painted)."""
    protocol = [ms for result in results if not result.browser for at, ms in result.answers if start <= at < end]
    painted = [ms for result in results if result.browser for ms in result.painted_ms]
    return {"drawings": len(protocol) + len(painted), "p50_ms": percentile(protocol, 50),
            "answers": sorted((round(at, 2), round(ms, 1)) for result in results if not result.browser
                              for at, ms in result.answers if start <= at < end),  # (s into the phase, ms)
            "p95_ms": percentile(protocol, 95), "painted_p50_ms": percentile(painted, 50),
            "painted_p95_ms": percentile(painted, 95),
            "misread": [text for result in results for text in result.misread]}


def percentile(values, q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


def alone_phase(base_url: str, args) -> dict:
    """One protocol student, then one Chromium student, each drawing --single-rounds digits alone."""
    alone = asyncio.run(run_students(base_url, [Student(-1, "drawing", rounds=args.single_rounds)], args.think,
                                     None))
    figures = drawing_figures(alone)
    if args.browsers:
        browser = asyncio.run(run_students(base_url, [Student(-2, "drawing", browser=True,
                                                              rounds=args.single_rounds)], args.think, None))
        painted = drawing_figures(browser)
        figures.update(painted_p50_ms=painted["painted_p50_ms"], painted_p95_ms=painted["painted_p95_ms"],
                       drawings=figures["drawings"] + painted["drawings"],
                       misread=figures["misread"] + painted["misread"])
        alone += browser
    figures["errors"] = [error for result in alone for error in result.errors]
    return figures


def idle_phase(base_url: str, args, monitor: Monitor) -> dict:
    """--idle students open the app and stay; the server's RSS growth per session."""
    before = monitor.settled()
    figures: dict = {}

    async def hold():
        leave, epoch = asyncio.Event(), time.perf_counter()
        results = [StudentResult(-10 - n, "idle") for n in range(args.idle)]
        tasks = [asyncio.ensure_future(protocol_student(base_url, Student(result.index, "idle"), args.think, epoch,
                                                        math.inf, leave, result)) for result in results]
        while not all(result.first_page_s is not None or result.errors for result in results):
            await asyncio.sleep(0.1)
        figures["with"] = await asyncio.get_running_loop().run_in_executor(None, monitor.settled)
        leave.set()
        return await asyncio.gather(*tasks)

    results = asyncio.run(hold())
    growth = (figures["with"]["server_mb"] - before["server_mb"]) if before["server_mb"] is not None else None
    return {"students": args.idle, "rss_before_mb": before["server_mb"], "rss_with_mb": figures["with"]["server_mb"],
            "mb_per_session": growth / args.idle if growth is not None else None,
            "errors": [error for result in results for error in result.errors]}


def class_phase(base_url: str, args, students: list[Student], monitor: Monitor) -> dict:
    start, cpu_before, machine_before = time.perf_counter(), monitor.cpu_seconds(), psutil.cpu_times()
    results = asyncio.run(run_students(base_url, students, args.think, args.minutes * 60))
    elapsed = time.perf_counter() - start
    cpu_after, machine_after = monitor.cpu_seconds(), psutil.cpu_times()
    samples = [sample for sample in monitor.since(start) if sample["server_mb"] is not None]
    page_ms: dict[str, list[float]] = {}
    for result in results:
        for title, values in result.page_ms.items():
            page_ms.setdefault(title, []).extend(values)
    runs = [run for result in results for run in result.training]
    machine = sum(machine_after) - sum(machine_before)
    busy = machine - (machine_after.idle - machine_before.idle)
    first_pages = [result.first_page_s for result in results if result.first_page_s is not None and not result.browser]
    return {
        "seconds": elapsed,
        "first_page_s": {"p50": percentile(first_pages, 50), "p95": percentile(first_pages, 95),
                         "opened": len(first_pages), "students": sum(not student.browser for student in students),
                         "chromium": [result.first_page_s for result in results if result.browser]},
        "drawing": drawing_figures(results),
        "page_change_ms": {"p95": percentile([ms for values in page_ms.values() for ms in values], 95),
                           "loads": sum(len(values) for values in page_ms.values()),
                           "p95_by_page": {title: percentile(values, 95) for title, values in page_ms.items()}},
        "training": {"students": sum(student.role == "training" for student in students), "finished": len(runs),
                     "unfinished": sum(result.unfinished_runs for result in results),
                     "unfinished_without_queue": sum(result.unfinished_without_queue for result in results),
                     "wall_s": [run["wall_s"] for run in runs], "queued_s": [run["queued_s"] for run in runs],
                     "queue_shown": sum(run["queue_shown"] for run in runs)},
        "server": {"peak_mb": max((sample["server_mb"] for sample in samples), default=None),
                   "peak_with_children_mb": max((sample["server_mb"] + sum(mb for _, mb in sample["children"].values())
                                                 for sample in samples), default=None),
                   "peak_threads": max((sample["threads"] for sample in samples), default=None)},
        "cpu": {"client_s": cpu_after["client"] - cpu_before["client"],
                "server_s": cpu_after["server"] - cpu_before["server"],
                "children_s": cpu_after["children"] - cpu_before["children"], "machine_s": machine, "busy_s": busy},
        "errors": [f"student {result.index} ({result.role}): {error}" for result in results for error in result.errors],
        "leaks": [leak for result in results for leak in result.leaks],
    }


def server_at_rest(base_url: str, monitor: Monitor) -> dict:
    """The server with nobody there: ``Monitor.settled`` once the sessions students left are gone.

    Streamlit keeps a session whose browser left for SESSION_TTL_S (it may come back), and drops expired ones
    when the next session leaves: wait that long, then one student opens the app and leaves."""
    time.sleep(SESSION_TTL_S + 5)
    asyncio.run(run_students(base_url, [Student(-100, "idle", rounds=0)], 0.0, None))
    return monitor.settled()


def soak_phase(base_url: str, args, rng: random.Random) -> dict:
    """Students join and leave for --soak minutes: as many at a time as the class, each staying 30-120 s."""
    seconds = args.soak * 60
    students, index = [], 1000
    for seat in class_plan(args, rng):  # each seat of the class, taken by one student after another
        clock = rng.uniform(0, args.arrive)
        while clock < seconds:
            stay = rng.uniform(30, 120)
            students.append(Student(index, seat.role, arrive_s=clock, stay_s=stay))
            index, clock = index + 1, clock + stay + rng.uniform(0, 5)
    results = asyncio.run(run_students(base_url, students, args.think, seconds + 10))
    return {"students": len(students), "minutes": args.soak,
            "errors": [f"student {result.index} ({result.role}): {error}" for result in results
                       for error in result.errors],
            "leaks": [leak for result in results for leak in result.leaks],
            "drawing": drawing_figures(results)}


def ramp_phase(base_url: str, args, reference_ms: float) -> dict:
    """RAMP_STEP students at a time, each step --step-minutes long, until the drawing p95 of a step passes
    TARGET_RATIO x ``reference_ms`` or an error appears; max_class is the last class that passed."""

    async def ramp():
        leave, epoch, tasks, results, steps, max_class = asyncio.Event(), time.perf_counter(), [], [], [], 0
        while len(tasks) < args.ramp_max:
            start = time.perf_counter() - epoch
            group = [Student(len(tasks) + n, RAMP_ROLES[n % len(RAMP_ROLES)], arrive_s=start + rng.uniform(0, 2))
                     for n in range(RAMP_STEP)]
            results += [StudentResult(who.index, who.role) for who in group]
            tasks += [asyncio.ensure_future(protocol_student(base_url, who, args.think, epoch, math.inf, leave, result))
                      for who, result in zip(group, results[-RAMP_STEP:])]
            await asyncio.sleep(args.step_minutes * 60)
            end = time.perf_counter() - epoch
            errors = [error for result in results for error in result.errors]
            # The step's answers once the newcomers have settled in (their first page and Draw page).
            answers = [ms for result in results for at, ms in result.answers if start + 10 <= at < end]
            p95 = percentile(answers, 95)
            steps.append({"students": len(tasks), "p95_ms": p95, "drawings": len(answers), "errors": errors[:5]})
            print(f"  ramp: {len(tasks)} students, drawing p95 {fmt_ms(p95)} ({len(answers)} drawings), "
                  f"{len(errors)} errors", flush=True)
            if errors or p95 is None or p95 > TARGET_RATIO * reference_ms:
                break
            max_class = len(tasks)
        leave.set()
        await asyncio.gather(*tasks)
        return {"steps": steps, "max_class": max_class, "errors": [error for result in results for error in result.errors],
                "drawing": drawing_figures(results)}

    rng = random.Random(1)
    return asyncio.run(ramp())


# ----- the report -----

def fmt_ms(value) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"


def memory_report(monitor: Monitor, before_class: dict, after_class: dict) -> dict:
    children = {}
    for pid, (label, mb) in after_class["children"].items():
        peak = max((sample["children"][pid][1] for sample in monitor.samples if pid in sample["children"]), default=mb)
        children[str(pid)] = {"label": label, "rss_mb": mb, "peak_mb": peak}
    left_behind = []
    new_children = set(after_class["children"]) - set(before_class["children"])
    extra = [pid for pid in new_children if after_class["children"][pid][0] not in CHILD_LABELS.values()]
    if extra:
        left_behind.append(f"children that are no training worker or calibrator: {extra}")
    before, after = before_class.get("thread_names"), after_class.get("thread_names")
    if before is not None and after is not None:
        # Pools grow to the most work they were given and keep their threads (AnyIO's for HTTP requests, the
        # event loop's executor); a training worker started meanwhile stays warm with the thread that reads it.
        # Any other thread more than before is left behind: a script run that never ended, a thread of ours.
        extra = {name: count for name, count in (after - before).items()
                 if name not in POOL_THREADS and name != "mnist-training-reader"}
        if extra:
            left_behind.append(f"threads: {dict(extra)} more than before")
    if before is None or after is None:
        left_behind_note = "threads not named (py-spy cannot look at the server): only children checked"
    else:
        left_behind_note = f"threads by name after: {dict(after)}"
    return {"server_before_mb": before_class["server_mb"], "server_after_mb": after_class["server_mb"],
            "threads_before": before_class["threads"], "threads_after": after_class["threads"],
            "threads_note": left_behind_note,
            "children": children, "left_behind": left_behind}


def machine_description() -> str:
    model = next((line.split(":", 1)[1].strip() for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "unknown CPU") if pathlib.Path("/proc/cpuinfo").exists() else ""
    flags = pathlib.Path("/proc/cpuinfo").read_text() if pathlib.Path("/proc/cpuinfo").exists() else ""
    return f"{model}, {os.cpu_count()} CPUs, {'AVX-512' if 'avx512f' in flags else 'no AVX-512'}"


def print_report(args, report: dict) -> int:
    alone, crowd = report["alone"], report.get("class")
    checks: dict[str, bool] = {}
    print(f"machine: {report['machine']}; load average before {report['load_before'][0]:.1f}, "
          f"after {os.getloadavg()[0]:.1f}")
    print(f"alone: {alone['drawings']} drawings: protocol (the server's part) p50 {fmt_ms(alone['p50_ms'])}, "
          f"p95 {fmt_ms(alone['p95_ms'])}; Chromium (painted) p50 {fmt_ms(alone['painted_p50_ms'])}, "
          f"p95 {fmt_ms(alone['painted_p95_ms'])}")
    idle = report.get("idle")
    if idle:
        per = idle["mb_per_session"]
        added = "n/a" if per is None else f"{per * idle['students']:.1f} MB, {per:.2f} MB per session"
        print(f"idle: {idle['students']} students add {added}")
        if per is not None:
            checks[f"idle session {per:.2f} MB (target <= {TARGET_IDLE_MB:g} MB)"] = per <= TARGET_IDLE_MB
    errors = alone["errors"] + (idle["errors"] if idle else [])
    misread = list(alone["misread"])
    if crowd:
        first, drawing, pages, training, cpu = (crowd[key] for key in
                                                ("first_page_s", "drawing", "page_change_ms", "training", "cpu"))
        print(f"class: {args.students} students ({args.drawing} drawing, {args.browsers} of them in Chromium; "
              f"{args.training} training; {args.browsing} browsing) arriving within {args.arrive:g} s, "
              f"{crowd['seconds']:.0f} s, think {args.think:g} s")
        chromium = ", ".join("n/a" if value is None else f"{value:.2f} s" for value in first["chromium"])
        print(f"  first page (connect -> its run ended): {first['opened']} of {first['students']} protocol students "
              f"opened, p50 {first['p50'] or 0:.2f} s, p95 {first['p95'] or 0:.2f} s; Chromium (/draw until its pad "
              f"shows) {chromium or 'none'}")
        print(f"  drawing: {drawing['drawings']} drawings; protocol p50 {fmt_ms(drawing['p50_ms'])}, "
              f"p95 {fmt_ms(drawing['p95_ms'])}; Chromium painted p50 {fmt_ms(drawing['painted_p50_ms'])}, "
              f"p95 {fmt_ms(drawing['painted_p95_ms'])}")
        by_page = ", ".join(f"{title} {fmt_ms(value)}" for title, value in pages["p95_by_page"].items())
        print(f"  page change: {pages['loads']} changes, p95 {fmt_ms(pages['p95'])} ({by_page})")
        walls = ", ".join(f"{wall:.0f} s" for wall in training["wall_s"]) or "none"
        queued = ", ".join(f"{wait:.0f} s" for wait in training["queued_s"]) or "none"
        print(f"  training: {training['finished']} of {training['students']} runs finished (wall {walls}; queued "
              f"{queued}; {training['queue_shown']} showed their queue position), {training['unfinished']} "
              "unfinished")
        share = cpu["client_s"] / cpu["machine_s"] if cpu["machine_s"] else 0.0
        print(f"  CPU: client (protocol students, Chromium) {cpu['client_s']:.1f} s = {share:.1%} of the machine; "
              f"server {cpu['server_s']:.0f} s ({cpu['server_s'] / crowd['seconds']:.0%} of a core), its children "
              f"(training, calibration) {cpu['children_s']:.0f} s; machine busy {cpu['busy_s']:.0f} of "
              f"{cpu['machine_s']:.0f} CPU-s (the rest of the busy time: other processes)")
        server = crowd["server"]
        if server["peak_mb"] is not None:
            print(f"  server: peak RSS {server['peak_mb']:.0f} MB (with its children "
                  f"{server['peak_with_children_mb']:.0f} MB), peak threads {server['peak_threads']}")
        ratio = (drawing["p95_ms"] / alone["p95_ms"]) if drawing["p95_ms"] and alone["p95_ms"] else math.inf
        checks[f"first page p95 {first['p95'] or math.inf:.2f} s (target <= {TARGET_FIRST_PAGE_S:g} s)"] = \
            first["opened"] == first["students"] and (first["p95"] or math.inf) <= TARGET_FIRST_PAGE_S
        checks[f"drawing p95 class / alone {ratio:.2f}x (protocol, the server's part; target <= "
               f"{TARGET_RATIO:g}x)"] = ratio <= TARGET_RATIO
        if args.browsers:
            painted = (drawing["painted_p95_ms"] / alone["painted_p95_ms"]
                       if drawing["painted_p95_ms"] and alone["painted_p95_ms"] else math.inf)
            checks[f"drawing p95 class / alone {painted:.2f}x (Chromium, painted; target <= {TARGET_RATIO:g}x)"] = \
                painted <= TARGET_RATIO
        checks[f"page change p95 {fmt_ms(pages['p95'])} (target <= {TARGET_PAGE_CHANGE_S * 1000:.0f} ms)"] = \
            pages["p95"] is not None and pages["p95"] <= TARGET_PAGE_CHANGE_S * 1000
        checks[f"training runs finished or shown in the queue: {training['finished']} finished, "
               f"{training['unfinished_without_queue']} unfinished without their queue position"] = \
            training["finished"] + (training["unfinished"] - training["unfinished_without_queue"]) \
            == training["students"] and training["unfinished_without_queue"] == 0
        checks[f"client CPU {share:.1%} of the machine (target < {TARGET_CLIENT_SHARE:.0%})"] = \
            share < TARGET_CLIENT_SHARE
        errors += crowd["errors"]
        misread += drawing["misread"]
        leaks = crowd["leaks"]
        checks[f"leak check: {len(leaks)} sessions saw another's model (target 0)"] = not leaks
        for leak in leaks[:10]:
            print(f"  leak: {leak}")
    memory = report.get("memory")
    if memory:
        print(f"memory: server {memory['server_before_mb']:.0f} MB before the class, "
              f"{memory['server_after_mb']:.0f} MB after it (settled); threads {memory['threads_before']} -> "
              f"{memory['threads_after']} ({memory['threads_note']})")
        for pid, child in memory["children"].items():
            print(f"  child {pid} ({child['label']}): {child['rss_mb']:.0f} MB, peak {child['peak_mb']:.0f} MB")
        checks[f"left behind after the class: {'; '.join(memory['left_behind']) or 'nothing'}"] = \
            not memory["left_behind"]
    soak = report.get("soak")
    if soak:
        growth = soak["rss_end_mb"] / soak["rss_after_class_mb"] - 1
        print(f"soak: {soak['students']} students joined and left over {soak['minutes']:g} min; server RSS "
              f"{soak['rss_after_class_mb']:.0f} MB after the first class, {soak['rss_end_mb']:.0f} MB at the end "
              f"({growth:+.1%}); threads {soak['threads_after_class']} -> {soak['threads_end']}")
        checks[f"soak RSS growth {growth:+.1%} (target <= {SOAK_GROWTH:.0%})"] = growth <= SOAK_GROWTH
        checks[f"soak left behind: {'; '.join(soak['left_behind']) or 'nothing'}"] = not soak["left_behind"]
        errors += soak["errors"]
        misread += soak["drawing"]["misread"]
    ramp = report.get("ramp")
    if ramp:
        print(f"max_class={ramp['max_class']}")
        errors += ramp["errors"]
    checks[f"drawings read right: {len(misread)} misread (target 0)"] = not misread
    for text in misread[:10]:
        print(f"  misread: {text}")
    checks[f"errors {len(errors)} (target 0)"] = not errors
    for error in errors[:20]:
        print(f"  error: {error}")
    for check, passed in checks.items():
        print(f"{check}: {'PASS' if passed else 'FAIL'}")
    passed = all(checks.values())
    print("PASS" if passed else "FAIL")
    report["checks"], report["passed"] = checks, passed
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    return 0 if passed else 1


# ----- main -----

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30, help="students in the class")
    parser.add_argument("--drawing", type=int, default=20, help="of them, students who draw, digit after digit")
    parser.add_argument("--training", type=int, default=5, help="students who train the Lecture preset once")
    parser.add_argument("--browsing", type=int, default=5, help="students who move between the pages")
    parser.add_argument("--browsers", type=int, default=1,
                        help="drawing students in real Chromium, painted (default 1; 0: protocol students only)")
    parser.add_argument("--minutes", type=float, default=3.0, help="length of the class")
    parser.add_argument("--arrive", type=float, default=6.0, help="the class arrives within this many seconds")
    parser.add_argument("--think", type=float, default=5.0,
                        help="seconds a student takes to draw the next digit or to read a page (default 5)")
    parser.add_argument("--single-rounds", type=int, default=30, help="drawings of each student drawing alone")
    parser.add_argument("--idle", type=int, default=10, help="idle students opened to measure RSS per session")
    parser.add_argument("--soak", type=float, default=None, metavar="MINUTES",
                        help="after the class, students join and leave for MINUTES; RSS and leaks compared")
    parser.add_argument("--ramp", action="store_true",
                        help=f"instead of the class: {RAMP_STEP} more students at a time until drawing fails its "
                             "target; prints max_class=N")
    parser.add_argument("--step-minutes", type=float, default=1.0, help="length of each ramp step")
    parser.add_argument("--ramp-max", type=int, default=200, help="the ramp stops at this many students")
    parser.add_argument("--url", default=None, help="drive this running server (with a saved model) instead of "
                                                    "starting a fresh one")
    parser.add_argument("--server-pid", type=int, default=None, help="with --url: the local server's process id")
    parser.add_argument("--data", default=os.environ.get("MNIST_PATH"), help="MNIST file; default: MNIST_PATH")
    parser.add_argument("--seed", type=int, default=0, help="arrival times and soak stays")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)
    for name in ("minutes", "step_minutes"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be more than 0, got {getattr(args, name)}")
    for name in ("think", "arrive"):
        if getattr(args, name) < 0:
            parser.error(f"--{name} must be 0 or more seconds, got {getattr(args, name)}")
    for name in ("students", "single_rounds", "ramp_max"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    for name in ("drawing", "training", "browsing", "browsers", "idle"):
        if getattr(args, name) < 0:
            parser.error(f"--{name} must be 0 or more, got {getattr(args, name)}")
    if args.drawing + args.training + args.browsing > args.students:
        parser.error(f"--drawing + --training + --browsing ({args.drawing + args.training + args.browsing}) "
                     f"exceeds --students ({args.students}): raise --students or lower a role")
    if args.drawing < 1:
        parser.error("--drawing must be at least 1: the targets compare drawing latency")
    if args.browsers > args.drawing:
        parser.error(f"--browsers ({args.browsers}) exceeds --drawing ({args.drawing}): Chromium students draw")
    if args.soak is not None and args.soak <= 0:
        parser.error(f"--soak must be more than 0 minutes, got {args.soak}")
    if args.server_pid is not None and args.url is None:
        parser.error("--server-pid goes with --url: without --url the bench starts and watches its own server")
    return args


def train_reference_model(models_dir: pathlib.Path, data: str | None) -> str:
    """The Lecture preset, 1 epoch, saved as "lecture": the Draw page's model. In a child process, so this one
    (the students' loop) never loads TensorFlow."""
    command = [sys.executable, "-m", "core", "train", "--preset", "lecture", "--epochs", "1", "--save", "lecture",
               "--models-dir", str(models_dir)] + (["--data", data] if data else [])
    finished = subprocess.run(command, capture_output=True, text=True, cwd=pathlib.Path(__file__).resolve().parents[1])
    if finished.returncode != 0:
        raise SystemExit(f"training the reference model failed: {finished.stderr.strip()[-500:]}")
    accuracy = re.search(r"test_accuracy=(\S+)", finished.stdout)
    return f"lecture preset, 1 epoch, test accuracy {accuracy.group(1) if accuracy else '?'}"


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.browsers and not chromium_available():
        print(f"Chromium not found at {CHROMIUM}; {INSTALL_HINT} (or run with --browsers 0)")
        return 1
    with tempfile.TemporaryDirectory(prefix="classroom-") as folder:
        if args.url:
            return run(args, args.url.rstrip("/"), args.server_pid)
        models_dir = pathlib.Path(folder) / "models"
        print(f"model: {train_reference_model(models_dir, args.data)}", flush=True)
        env = {"MNIST_MODELS_DIR": str(models_dir), "TF_CPP_MIN_LOG_LEVEL": "3"}
        if args.data:
            env["MNIST_PATH"] = args.data
        with streamlit_server(env) as (base_url, process, _seconds):
            return run(args, base_url, process.pid)


def run(args, base_url: str, server_pid: int | None) -> int:
    monitor = Monitor(server_pid)
    monitor.start()
    rng = random.Random(args.seed)
    report: dict = {"machine": machine_description(), "load_before": os.getloadavg(),
                    "scenario": {name: getattr(args, name) for name in
                                 ("students", "drawing", "training", "browsing", "browsers", "minutes", "arrive",
                                  "think", "single_rounds", "idle", "soak", "ramp")}}
    print(f"phase 1: one student drawing {args.single_rounds} digits alone (protocol"
          f"{', then Chromium' if args.browsers else ''})", flush=True)
    report["alone"] = alone_phase(base_url, args)
    if args.idle and server_pid:
        print(f"phase 2: {args.idle} idle students", flush=True)
        report["idle"] = idle_phase(base_url, args, monitor)
    if args.ramp:
        print(f"phase 3: the ramp, {RAMP_STEP} students at a time, {args.step_minutes:g} min each", flush=True)
        report["ramp"] = ramp_phase(base_url, args, report["alone"]["p95_ms"])
    else:
        before = monitor.settled()
        print(f"phase 3: {args.students} students arriving within {args.arrive:g} s, for {args.minutes:g} min",
              flush=True)
        report["class"] = class_phase(base_url, args, class_plan(args, rng), monitor)
        if server_pid:
            after = monitor.settled()
            report["memory"] = memory_report(monitor, before, after)
            if args.soak:
                print(f"phase 4: students joining and leaving for {args.soak:g} min (the server measured once the "
                      f"sessions they left are gone, {SESSION_TTL_S:.0f} s after)", flush=True)
                after_class = server_at_rest(base_url, monitor)
                soak = soak_phase(base_url, args, rng)
                end = server_at_rest(base_url, monitor)
                soak.update(rss_after_class_mb=after_class["server_mb"], rss_end_mb=end["server_mb"],
                            threads_after_class=after_class["threads"], threads_end=end["threads"],
                            left_behind=memory_report(monitor, after_class, end)["left_behind"])
                report["soak"] = soak
    monitor.stopping.set()
    return print_report(args, report)


if __name__ == "__main__":
    sys.exit(main())
