"""A class at once: N students in real browsers on one `streamlit run dashboard/app.py`, the server watched.

In the style of Streamlit's own load tests (streamlit/streamlit#14470): a real server on a
loopback port (a saved Lecture model in a temporary MNIST_MODELS_DIR), sessions driven by
Playwright across several worker processes, and psutil sampling the server (its process and
its children: the training workers) in a thread. Each worker process starts one Debian
Chromium and runs several sessions in it, one thread and one Playwright connection (CDP) each,
because draw_latency's drawing helpers use Playwright's sync API, which belongs to one thread.

Three phases, in one run on one server:
1. single: one drawing student alone; its p95 is the reference for the class.
2. idle: --idle pages open on the landing page and sit there; the server's RSS growth per page.
3. class: --students sessions for --minutes, then it stops by itself:
   drawing  loop Clear / draw / pen up -> `Prediction` shown (bench/draw_latency.py's rounds), then
            --think seconds looking at the answer;
   training set the Lecture preset to --epochs on the Train page, Start, wait for the accuracy;
            wall time, and time shown "Waiting in the queue";
   browsing move between the pages through the sidebar, --think seconds on each; page load =
            click -> the page's title shown and its script run done; the first half upload a small
            npz of their own first;
   the rest (students beyond the three roles) sit idle on the landing page.
   Every session then checks its sidebar: its own active model, its own upload, never another's.

Targets (PASS/FAIL, exit 1 on FAIL): class p95 <= 2x the single student's p95, no errors in any
page, every queued run finished, idle sessions <= 30 MB each, leak check clean. The browsers run
on the server's machine, as students' browsers would not: they run at a lower CPU priority
(CLIENT_NICENESS), and the client's CPU share is printed beside the figures.

    MNIST_PATH=../shared/data/mnist_data.npz python bench/classroom.py \
        --students 30 --drawing 20 --training 5 --browsing 5 --minutes 3 [--json result.json]
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import psutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: no start-up chatter

ROOT = pathlib.Path(__file__).resolve().parents[1]

import draw_latency  # noqa: E402

from harness.live_server import CHROMIUM, CHROMIUM_ARGS, INSTALL_HINT, chromium_available, free_port, streamlit_server  # noqa: E402

Role = Literal["drawing", "training", "browsing", "idle"]
TARGET_RATIO = 2.0  # class p95 / single student p95
TARGET_IDLE_MB = 30.0  # server RSS growth per idle session
STEP_TIMEOUT_MS = 120_000  # one page load or one Clear: longer than this is an error, not a figure
TRAINING_GRACE_S = 300  # a queued run may finish this long after --minutes; later, it counts as unfinished
CLIENT_NICENESS = 10  # os.nice of the browsers and their Playwright drivers (see worker)
SAMPLE_SECONDS = 0.5  # psutil sampling period
SETTLE_SECONDS = 3.0  # idle pages open: wait, then take the median of the RSS samples over this time
PAGES = ["Lecture", "Digits", "Train", "Evaluate", "Draw", "Models"]  # the sidebar's links; each page's h1
MAIN = '[data-testid="stMain"]'
SIDEBAR = '[data-testid="stSidebar"]'
RUNNING = '[data-testid="stStatusWidgetRunningIcon"]'
UPLOAD_PREFIX = "class-upload-"
# Resolves with the page's own clock once the page titled `title` is shown and its script run is over.
PAGE_SHOWN = """title => {
  const heading = document.querySelector('%s h1');
  const done = heading && heading.innerText.trim() === title && !document.querySelector('%s');
  return done ? performance.now() : false;
}""" % (MAIN, RUNNING)
# Installed before Start: every 200 ms, note when the queue text is first and last shown, and the accuracy.
TRAIN_WATCH = """() => {
  const times = window.__trainTimes = {start: performance.now(), queued: null, unqueued: null, done: null};
  const timer = setInterval(() => {
    const now = performance.now();
    const bar = document.querySelector('%s [data-testid="stProgress"]');
    const waiting = bar !== null && bar.innerText.includes('Waiting in the queue');
    if (waiting && times.queued === null) times.queued = now;
    if (!waiting && times.queued !== null && times.unqueued === null) times.unqueued = now;
    const metrics = [...document.querySelectorAll('%s [data-testid="stMetric"]')];
    if (metrics.some(m => m.innerText.includes('Accuracy on test data'))) {
      times.done = now;
      if (times.queued !== null && times.unqueued === null) times.unqueued = now;
      clearInterval(timer);
    }
  }, 200);
}""" % (MAIN, MAIN)
TRAIN_ENDED = """() => window.__trainTimes.done !== null
  || document.querySelector('%s [data-testid="stAlertContentError"]') !== null""" % MAIN


@dataclass
class Session:
    """One simulated student."""

    index: int
    role: Role
    upload: str | None = None  # an npz this session uploads first (browsing only)
    rounds: int | None = None  # stop after this many timed drawings (the single-student phase)
    think: float = 0.0  # seconds spent reading each answer (drawing) or page (browsing) before the next


@dataclass
class SessionResult:
    index: int
    role: Role
    draw_ms: list[float] = field(default_factory=list)  # pen up -> Prediction shown, warm-up round excluded
    answer_ms: list[float] = field(default_factory=list)  # pen up -> the server's answer arrives (ANSWER_HOOK)
    page_ms: dict[str, list[float]] = field(default_factory=dict)  # page title -> click -> page shown
    training: list[dict] = field(default_factory=list)  # {"wall_s", "queued_s", "saved_as"} per finished run
    unfinished_runs: int = 0
    errors: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)


# ----- one session, in a thread of a worker process -----

def page_errors(page) -> list[str]:
    """Tracebacks and st.error messages in the page now."""
    found = [f"traceback: {text[:200]}" for text in page.locator('[data-testid="stException"]').all_inner_texts()]
    alerts = page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
    found += [f"st.error: {text[:200]}" for text in alerts]
    return found


def go_to(page, title: str) -> float:
    """Click the sidebar link to ``title`` (same session) and return ms until that page is shown, done."""
    started = page.evaluate("() => performance.now()")
    page.locator('[data-testid="stSidebarNavLink"]').filter(has_text=re.compile(rf"{title}$")).first.click()
    shown = page.wait_for_function(PAGE_SHOWN, arg=title, timeout=STEP_TIMEOUT_MS).json_value()
    return shown - started


def sidebar_state(page) -> tuple[str | None, list[str]]:
    """(the active model's name, the upload file names) as the sidebar shows them."""
    text = page.locator(SIDEBAR).inner_text()
    model = re.search(r"Active model:\s*(\S+)\s*\(", text)
    return (model.group(1) if model else None), re.findall(rf"{UPLOAD_PREFIX}\d+\.npz", text)


def upload(page, path: str) -> None:
    go_to(page, "Digits")
    page.locator(f'{MAIN} [data-testid="stFileUploader"] input[type="file"]').set_input_files(path)
    page.locator(SIDEBAR).get_by_text(pathlib.Path(path).name).wait_for(timeout=STEP_TIMEOUT_MS)


def draw_loop(page, session: Session, result: SessionResult, deadline: float) -> None:
    page.locator("canvas").last.wait_for(timeout=STEP_TIMEOUT_MS)
    shapes = list(draw_latency.DIGITS.values())
    draw_latency.one_round(page, shapes[session.index % len(shapes)])  # warm-up: this page's first guess
    count = 0
    # At least one timed round even when a busy machine spent the whole phase opening the page.
    while count < (session.rounds or 1) or (session.rounds is None and time.time() < deadline):
        milliseconds, _guess = draw_latency.one_round(page, shapes[(session.index + count) % len(shapes)])
        result.draw_ms.append(milliseconds)
        answered = draw_latency.answered_ms(page)
        if answered is not None:
            result.answer_ms.append(answered)
        count += 1
        time.sleep(session.think)  # the student reads the answer: a person's pause, not a wait for an event


def train_once(page, result: SessionResult, epochs: int, deadline: float) -> str | None:
    """Start the Lecture preset with ``epochs`` through the form, wait for it; returns the saved name."""
    go_to(page, "Train")
    page.get_by_label("Preset").first.wait_for(timeout=STEP_TIMEOUT_MS)  # the Lecture preset is the default
    epochs_box = page.get_by_label("Epochs")
    epochs_box.fill(str(epochs))
    epochs_box.press("Enter")
    page.wait_for_function(f"() => !document.querySelector('{RUNNING}')", timeout=STEP_TIMEOUT_MS)
    page.evaluate(TRAIN_WATCH)
    page.get_by_role("button", name="Start", exact=True).click()
    timeout_ms = max(deadline - time.time() + TRAINING_GRACE_S, 60) * 1000
    try:
        page.wait_for_function(TRAIN_ENDED, timeout=timeout_ms)
    except Exception:  # Playwright's TimeoutError: the run never ended
        result.unfinished_runs += 1
        result.errors.append(f"training: no result {timeout_ms / 1000:.0f} s after Start")
        return None
    times = page.evaluate("() => window.__trainTimes")
    if times["done"] is None:  # an error message instead of the accuracy: page_errors reports it
        result.unfinished_runs += 1
        return None
    saved = page.locator(f'{MAIN} [data-testid="stAlertContentSuccess"]').filter(has_text="Saved as").inner_text()
    name = re.search(r"Saved as (\S+?);", saved).group(1)
    queued = (times["unqueued"] - times["queued"]) / 1000 if times["queued"] is not None else 0.0
    result.training.append({"wall_s": (times["done"] - times["start"]) / 1000, "queued_s": queued,
                            "saved_as": name})
    return name


def browse_loop(page, session: Session, result: SessionResult, deadline: float) -> None:
    step, loads = session.index, 0
    while loads < 1 or time.time() < deadline:  # at least one timed page load, however busy the machine
        title = PAGES[step % len(PAGES)]
        if page.locator(f"{MAIN} h1").first.inner_text().strip() == title:  # already there: the next one
            step += 1
            continue
        result.page_ms.setdefault(title, []).append(go_to(page, title))
        result.errors += [f"{title}: {error}" for error in page_errors(page)]
        step, loads = step + 1, loads + 1
        time.sleep(session.think)  # the student reads the page before the next click


def run_session(cdp_url: str, base_url: str, session: Session, deadline: float, epochs: int,
                idle_ready=None, idle_release=None) -> SessionResult:
    """Drive one session in its own Playwright connection to the worker's Chromium."""
    from playwright.sync_api import sync_playwright

    result = SessionResult(session.index, session.role)
    with sync_playwright() as playwright:
        browser = None
        try:
            browser = playwright.chromium.connect_over_cdp(cdp_url, timeout=STEP_TIMEOUT_MS)
            context = browser.new_context(viewport={"width": 1400, "height": 1400})
            context.set_default_timeout(STEP_TIMEOUT_MS)  # Playwright's own 30 s is shorter than a busy page load
            page = context.new_page()
            page.add_init_script(draw_latency.ANSWER_HOOK)
            page.goto(f"{base_url}/")
            page.wait_for_function(PAGE_SHOWN, arg="Lecture", timeout=STEP_TIMEOUT_MS)
            if session.role == "idle" and idle_ready is not None:
                idle_ready.put(session.index)
                idle_release.wait()
                return result
            expected_model, _ = sidebar_state(page)
            if session.upload:
                upload(page, session.upload)
            if session.role == "drawing":
                go_to(page, "Draw")
                draw_loop(page, session, result, deadline)
            elif session.role == "training":
                expected_model = train_once(page, result, epochs, deadline) or expected_model
            elif session.role == "browsing":
                browse_loop(page, session, result, deadline)
            else:
                time.sleep(max(0.0, deadline - time.time()))
            result.errors += page_errors(page)
            go_to(page, "Lecture")  # a full rerun: the sidebar as it is now
            model, uploads = sidebar_state(page)
            if model != expected_model:
                result.leaks.append(f"session {session.index}: active model {model!r}, expected {expected_model!r}")
            own = [pathlib.Path(session.upload).name] if session.upload else []
            if uploads != own:
                result.leaks.append(f"session {session.index}: sidebar shows uploads {uploads}, expected {own}")
        except Exception as error:  # a timeout or a missing element: this session's error, not the run's end
            result.errors.append(f"{session.role}: {type(error).__name__}: {str(error).splitlines()[0][:200]}")
            if session.role == "idle" and idle_ready is not None:
                idle_ready.put(session.index)  # counted all the same: the bench never waits for a page that failed
        finally:
            if browser is not None:
                browser.close()  # and its contexts
    return result


def start_chromium(profile: str) -> tuple[subprocess.Popen, str]:
    """Debian's Chromium, headless, with a DevTools port each session's Playwright connects to."""
    port = free_port()
    process = subprocess.Popen(
        [CHROMIUM, "--headless", f"--remote-debugging-port={port}", f"--user-data-dir={profile}", *CHROMIUM_ARGS],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    cdp_url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"{cdp_url}/json/version", timeout=1):
                return process, cdp_url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("Chromium did not open its DevTools port within 60 s")


def worker(base_url: str, sessions: list[Session], deadline: float, epochs: int, results,
           idle_ready=None, idle_release=None) -> None:
    """One worker process: one Chromium, one thread per session; puts the list of SessionResult dicts."""
    outcomes: list[SessionResult] = []
    # In a class the browsers run on the students' own machines. Here they share the server's cores, so
    # they run at a lower priority: the server gets the CPU it would have, and the browsers the rest.
    os.nice(CLIENT_NICENESS)
    try:
        with tempfile.TemporaryDirectory(prefix="classroom-chromium-") as profile:
            chromium, cdp_url = start_chromium(profile)
            threads = [threading.Thread(target=lambda s=s: outcomes.append(
                run_session(cdp_url, base_url, s, deadline, epochs, idle_ready, idle_release))) for s in sessions]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            chromium.terminate()
            chromium.wait(10)
    except Exception as error:  # Chromium would not start: every session of this worker reports it
        outcomes = [SessionResult(s.index, s.role, errors=[f"worker: {type(error).__name__}: {error}"])
                    for s in sessions]
    finally:  # always answer, so the bench never waits for a worker that is gone
        results.put([asdict(outcome) for outcome in outcomes])


def run_workers(base_url: str, sessions: list[Session], workers: int, deadline: float, epochs: int,
                idle_ready=None, idle_release=None) -> list[SessionResult]:
    """Spread ``sessions`` round-robin over ``workers`` spawned processes; wait for all; their results."""
    context = multiprocessing.get_context("spawn")  # never fork a process that may hold TensorFlow
    results = context.Queue()
    groups = [sessions[start::workers] for start in range(workers)]
    processes = [context.Process(target=worker, args=(base_url, group, deadline, epochs, results,
                                                      idle_ready, idle_release)) for group in groups if group]
    for process in processes:
        process.start()
    collected = [SessionResult(**item) for _ in processes for item in results.get()]
    for process in processes:
        process.join()
    return collected


# ----- the server, watched from the bench's main process -----

class Monitor(threading.Thread):
    """Samples the server (process and children) and the client (this process's other descendants)."""

    def __init__(self, server_pid: int):
        super().__init__(daemon=True)
        self.server = psutil.Process(server_pid)
        self.lock = threading.Lock()
        self.cpu: dict[int, tuple[str, float]] = {}  # pid -> ("server" | "client", CPU seconds last seen)
        self.server_rss: list[float] = []  # MB, the server process alone
        self.total_rss: list[float] = []  # MB, server + its children (training workers)
        self.threads: list[int] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        me = psutil.Process()
        while not self.stopping.wait(SAMPLE_SECONDS):
            try:
                server_tree = [self.server, *self.server.children(recursive=True)]
                server_pids = {process.pid for process in server_tree}
                client = [me, *(p for p in me.children(recursive=True) if p.pid not in server_pids)]
                server_rss = self.server.memory_info().rss / 2**20
                total = 0.0
                with self.lock:
                    for side, processes in (("server", server_tree), ("client", client)):
                        for process in processes:
                            try:
                                times = process.cpu_times()
                                if side == "server":
                                    total += process.memory_info().rss / 2**20
                            except psutil.Error:
                                continue
                            self.cpu[process.pid] = (side, times.user + times.system)
                    self.server_rss.append(server_rss)
                    self.total_rss.append(total)
                    self.threads.append(self.server.num_threads())
            except psutil.Error:
                return

    def cpu_seconds(self) -> dict[str, float]:
        with self.lock:
            totals = {"server": 0.0, "client": 0.0}
            for side, seconds in self.cpu.values():
                totals[side] += seconds
            return totals

    def mark(self) -> int:
        with self.lock:
            return len(self.server_rss)

    def since(self, mark: int) -> dict[str, list]:
        with self.lock:
            return {"server_rss": self.server_rss[mark:], "total_rss": self.total_rss[mark:],
                    "threads": self.threads[mark:]}


def settled_rss(monitor: Monitor) -> float:
    """The server process's RSS (MB): the median of the samples over SETTLE_SECONDS, after SETTLE_SECONDS."""
    time.sleep(SETTLE_SECONDS)
    mark = monitor.mark()
    time.sleep(SETTLE_SECONDS)
    return statistics.median(monitor.since(mark)["server_rss"] or [monitor.server.memory_info().rss / 2**20])


# ----- the scenario -----

def class_sessions(args, upload_dir: pathlib.Path, data) -> list[Session]:
    """The roles in turn (so each worker gets a mix); the first half of the browsers upload an npz."""
    roles: list[Role] = (["drawing"] * args.drawing + ["training"] * args.training + ["browsing"] * args.browsing
                         + ["idle"] * (args.students - args.drawing - args.training - args.browsing))
    sessions = [Session(index, role, think=args.think if role in ("drawing", "browsing") else 0.0)
                for index, role in enumerate(roles)]
    browsers = [session for session in sessions if session.role == "browsing"]
    for session in browsers[: math.ceil(len(browsers) / 2)]:
        path = upload_dir / f"{UPLOAD_PREFIX}{session.index}.npz"
        train, test = 100 + session.index, 20 + session.index  # distinct sizes too
        start = 1000 * session.index
        np.savez(path, X_train=data.x_train[start: start + train], y_train=data.y_train[start: start + train],
                 X_test=data.x_test[:test], y_test=data.y_test[:test])
        session.upload = str(path)
    return sessions


def percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30, help="sessions in the class phase")
    parser.add_argument("--drawing", type=int, default=20, help="students who draw, round after round")
    parser.add_argument("--training", type=int, default=5, help="students who train the Lecture preset once")
    parser.add_argument("--browsing", type=int, default=5, help="students who move between the pages")
    parser.add_argument("--minutes", type=float, default=3.0, help="length of the class phase")
    parser.add_argument("--epochs", type=int, default=1, help="epochs of each training student's run")
    parser.add_argument("--idle", type=int, default=10, help="idle pages opened to measure RSS per idle session")
    parser.add_argument("--think", type=float, default=2.0,
                        help="seconds a student reads each answer (drawing) or page (browsing) before going on "
                             "(default 2)")
    parser.add_argument("--single-rounds", type=int, default=15, help="timed drawings of the single student")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes for the class (default: one per 5 students)")
    parser.add_argument("--data", default=os.environ.get("MNIST_PATH"), help="MNIST file; default: MNIST_PATH")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args()
    if args.minutes <= 0:
        parser.error(f"--minutes must be more than 0, got {args.minutes}")
    if args.think < 0:
        parser.error(f"--think must be 0 or more seconds, got {args.think}")
    for name in ("students", "epochs", "idle", "single_rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    for name in ("drawing", "training", "browsing"):
        if getattr(args, name) < 0:
            parser.error(f"--{name} must be 0 or more, got {getattr(args, name)}")
    if args.drawing + args.training + args.browsing > args.students:
        parser.error(f"--drawing + --training + --browsing ({args.drawing + args.training + args.browsing}) "
                     f"exceeds --students ({args.students}): raise --students or lower a role")
    if args.drawing < 1:
        parser.error("--drawing must be at least 1: the targets compare drawing latency")
    args.workers = args.workers or math.ceil(args.students / 5)
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, got {args.workers}")
    return args


def main() -> int:
    args = parse_args()
    if not chromium_available():
        print(f"Chromium not found at {CHROMIUM}; {INSTALL_HINT}")
        return 1
    from core.data.mnist import load_mnist

    with tempfile.TemporaryDirectory(prefix="classroom-") as folder:
        models_dir, upload_dir = pathlib.Path(folder) / "models", pathlib.Path(folder) / "uploads"
        upload_dir.mkdir()
        print(f"model: {draw_latency.train_model(str(models_dir), args.data, epochs=1)}")
        sessions = class_sessions(args, upload_dir, load_mnist(args.data))
        env = {"MNIST_MODELS_DIR": str(models_dir), "TF_CPP_MIN_LOG_LEVEL": "3"}
        if args.data:
            env["MNIST_PATH"] = args.data
        with streamlit_server(env) as (base_url, process, _seconds):
            monitor = Monitor(process.pid)
            monitor.start()
            report = measure(args, base_url, sessions, monitor)
            monitor.stopping.set()
    return print_report(args, report)


def measure(args, base_url: str, sessions: list[Session], monitor: Monitor) -> dict:
    context = multiprocessing.get_context("spawn")
    print("phase 1: one student drawing alone")
    single = run_workers(base_url, [Session(-1, "drawing", rounds=args.single_rounds, think=args.think)], 1,
                         time.time() + 3600, args.epochs)
    print(f"phase 2: {args.idle} idle pages")
    before_idle = settled_rss(monitor)
    ready, release = context.Queue(), context.Event()
    idle_results: list[SessionResult] = []
    holder = threading.Thread(target=lambda: idle_results.extend(run_workers(
        base_url, [Session(-2 - n, "idle") for n in range(args.idle)], 1, time.time() + 3600, args.epochs,
        ready, release)))
    holder.start()
    for _ in range(args.idle):
        ready.get(timeout=STEP_TIMEOUT_MS / 1000 * args.idle)
    with_idle = settled_rss(monitor)
    release.set()
    holder.join()
    for error in (error for result in idle_results for error in result.errors):
        print(f"  idle page: {error}")
    print(f"phase 3: {args.students} students for {args.minutes:g} min in {args.workers} worker processes")
    before_class = settled_rss(monitor)
    mark, cpu_before, machine_before = monitor.mark(), monitor.cpu_seconds(), psutil.cpu_times()
    started = time.time()
    results = run_workers(base_url, sessions, args.workers, started + args.minutes * 60, args.epochs)
    elapsed = time.time() - started
    cpu_after, machine_after = monitor.cpu_seconds(), psutil.cpu_times()
    samples = monitor.since(mark)
    machine = sum(machine_after) - sum(machine_before) - (machine_after.idle - machine_before.idle)
    client, server = (cpu_after[side] - cpu_before[side] for side in ("client", "server"))
    single_ms = single[0].draw_ms
    class_ms = [ms for result in results for ms in result.draw_ms]
    single_answer, class_answer = single[0].answer_ms, [ms for result in results for ms in result.answer_ms]
    page_ms: dict[str, list[float]] = {}
    for result in results:
        for title, values in result.page_ms.items():
            page_ms.setdefault(title, []).extend(values)
    runs = [run for result in results for run in result.training]
    return {
        "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()},
        "scenario": {name: getattr(args, name) for name in
                     ("students", "drawing", "training", "browsing", "minutes", "epochs", "idle", "workers")},
        "class_seconds": elapsed,
        "single": {"drawings": len(single_ms), "p50_ms": percentile(single_ms, 50),
                   "p95_ms": percentile(single_ms, 95), "answer_p95_ms": percentile(single_answer, 95),
                   "errors": single[0].errors},
        "class": {"drawings": len(class_ms), "p50_ms": percentile(class_ms, 50), "p95_ms": percentile(class_ms, 95),
                  "answer_p50_ms": percentile(class_answer, 50), "answer_p95_ms": percentile(class_answer, 95)},
        "page_load_p95_ms": {title: percentile(values, 95) for title, values in page_ms.items()},
        "page_loads": sum(len(values) for values in page_ms.values()),
        "training": {"sessions": args.training, "finished": len(runs),
                     "unfinished": sum(result.unfinished_runs for result in results),
                     "wall_s": [run["wall_s"] for run in runs], "queued_s": [run["queued_s"] for run in runs]},
        "server": {"rss_before_class_mb": before_class, "peak_rss_mb": max(samples["server_rss"]),
                   "peak_rss_with_workers_mb": max(samples["total_rss"]), "peak_threads": max(samples["threads"]),
                   "rss_per_session_mb": (max(samples["server_rss"]) - before_class) / args.students},
        "idle": {"pages": args.idle, "rss_before_mb": before_idle, "rss_with_pages_mb": with_idle,
                 "mb_per_session": (with_idle - before_idle) / args.idle,
                 "errors": [error for result in idle_results for error in result.errors]},
        "cpu": {"client_s": client, "server_s": server, "machine_busy_s": machine},
        "errors": [f"session {result.index} ({result.role}): {error}" for result in results for error in result.errors],
        "leaks": [leak for result in results for leak in result.leaks],
    }


def print_report(args, report: dict) -> int:
    single, crowd, training, server, idle, cpu = (report[key] for key in
                                                  ("single", "class", "training", "server", "idle", "cpu"))
    def ms(value):
        return "n/a" if value is None else f"{value:.0f} ms"

    print(f"single student, {single['drawings']} drawings: pen up -> Prediction p50 {ms(single['p50_ms'])}, "
          f"p95 {ms(single['p95_ms'])}")
    print(f"class of {args.students} ({args.drawing} drawing, {args.training} training, {args.browsing} browsing) "
          f"for {report['class_seconds']:.0f} s, {crowd['drawings']} drawings ({args.think:g} s between them): "
          f"p50 {ms(crowd['p50_ms'])}, p95 {ms(crowd['p95_ms'])}")
    if single["answer_p95_ms"] and crowd["answer_p95_ms"]:  # not judged: where the time goes
        print(f"  of which the server's part (pen up -> the answer arrives): p95 {ms(crowd['answer_p95_ms'])} in the "
              f"class, {ms(single['answer_p95_ms'])} alone: {crowd['answer_p95_ms'] / single['answer_p95_ms']:.2f}x; "
              "the rest is the browser drawing it")
    loads = ", ".join(f"{title} {ms(value)}" for title, value in report["page_load_p95_ms"].items())
    print(f"page load p95 ({report['page_loads']} loads): {loads or 'none'}")
    walls = ", ".join(f"{wall:.0f} s" for wall in training["wall_s"])
    queued = ", ".join(f"{wait:.0f} s" for wait in training["queued_s"])
    print(f"training: {training['finished']} of {training['sessions']} runs finished "
          f"(wall {walls or 'none'}; queued {queued or 'none'}), {training['unfinished']} unfinished")
    print(f"server: peak RSS {server['peak_rss_mb']:.0f} MB (with training workers "
          f"{server['peak_rss_with_workers_mb']:.0f} MB), {server['rss_before_class_mb']:.0f} MB before the class, "
          f"{server['rss_per_session_mb']:.1f} MB per session; peak threads {server['peak_threads']}")
    print(f"idle: {idle['pages']} pages add {idle['rss_with_pages_mb'] - idle['rss_before_mb']:.0f} MB, "
          f"{idle['mb_per_session']:.1f} MB per idle session")
    busy = cpu["machine_busy_s"] or 1.0
    print(f"CPU during the class: client (browsers, Playwright) {cpu['client_s']:.0f} s = "
          f"{cpu['client_s'] / busy:.0%}, server (+ workers) {cpu['server_s']:.0f} s = {cpu['server_s'] / busy:.0%}, "
          f"of {busy:.0f} busy CPU-seconds on the machine (the rest: other processes)")
    errors = report["errors"] + single["errors"] + idle["errors"]
    print(f"errors: {len(errors)}" + "".join(f"\n  {error}" for error in errors[:20]))
    print(f"leak check: {'clean' if not report['leaks'] else ''}" + "".join(f"\n  {leak}" for leak in report["leaks"]))
    print(f"machine: {report['machine']['cpus']} CPUs, load average over the last minute "
          f"{report['machine']['load_average'][0]:.1f}")
    ratio = (crowd["p95_ms"] / single["p95_ms"]) if crowd["p95_ms"] and single["p95_ms"] else math.inf
    checks = {
        f"class p95 / single p95 {ratio:.2f}x (target <= {TARGET_RATIO:g}x)": ratio <= TARGET_RATIO,
        f"errors {len(errors)} (target 0)": not errors,
        f"queued runs finished {training['finished']}/{training['sessions']}": training["finished"] == training[
            "sessions"],
        f"idle session {idle['mb_per_session']:.1f} MB (target <= {TARGET_IDLE_MB:g} MB)":
            idle["mb_per_session"] <= TARGET_IDLE_MB,
        f"leak check {len(report['leaks'])} problems (target 0)": not report["leaks"],
    }
    for check, passed in checks.items():
        print(f"{check}: {'PASS' if passed else 'FAIL'}")
    passed = all(checks.values())
    print("PASS" if passed else "FAIL")
    report["ratio"], report["checks"], report["passed"] = ratio, checks, passed
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
