"""Long-lived child processes the server shares: the training workers and the estimate's calibrator.

Each child is a fresh Python interpreter, never a fork: TensorFlow's thread pools do not survive ``fork()``,
and a forked child can hang in its first operation (tensorflow/tensorflow#2448, #5448, #8220). Not
``multiprocessing``'s "spawn" either: under ``streamlit run``, Streamlit makes the page script
``sys.modules["__main__"]``, and a spawned (or forkserver) child re-runs the main module, so the child ran the
whole page and failed before its work (streamlit/streamlit#4788; seen here with a one-page app). So
``subprocess`` starts ``python -c`` and the two sides talk through two pipes wrapped in
``multiprocessing.connection.Connection``, what ``Pipe()`` builds: any picklable object either way.

A child runs at CHILD_NICENESS: a drawing's answer is a few milliseconds of work that a student waits for,
a training step or a calibration is not, and TensorFlow takes every core it can get (without this the
server's answers waited behind it, bench/classroom.py). Its parent's end reads as end of file on its pipe,
however the parent ended (exit, crash, SIGKILL), and the child ends too: no orphans.

    child = start_child("core.training.estimate:serve_calibrations")
    child.to_child.send(question); answer = child.from_child.recv()
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Callable

CHILD_NICENESS = 10  # lower CPU priority (os.nice) of every child: the server answers first
# The folder that holds this package: a child imports the same code as its parent, even from a second checkout.
PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_CHILD_CODE = "import sys; from core.training.child_process import run_child; run_child(*sys.argv[1:])"


@dataclass
class Child:
    """The parent's side of one child process."""

    process: subprocess.Popen
    to_child: Connection  # parent -> child
    from_child: Connection  # child -> parent

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        """End the child (if still running) and close both pipes."""
        if self.alive:
            self.process.kill()
        self.process.wait()
        self.to_child.close()
        self.from_child.close()


def start_child(target: str) -> Child:
    """Start a child that runs ``target`` ("package.module:function"), called with (incoming, outgoing) Connections.

    Raises OSError when no process can start (out of memory, too many open files).
    """
    to_reader, to_writer = os.pipe()
    from_reader, from_writer = os.pipe()
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [PACKAGE_ROOT, os.environ.get("PYTHONPATH", "")]))}
    try:
        process = subprocess.Popen([sys.executable, "-c", _CHILD_CODE, target, str(to_reader), str(from_writer)],
                                   pass_fds=(to_reader, from_writer), stdin=subprocess.DEVNULL, env=environment)
    except OSError:
        os.close(to_writer)
        os.close(from_reader)
        raise
    finally:
        # The child has its own copies now. Closing ours means its death reads as end of file here.
        os.close(to_reader)
        os.close(from_writer)
    return Child(process, Connection(to_writer, readable=False), Connection(from_reader, writable=False))


def run_child(target: str, incoming_fd: str, outgoing_fd: str) -> None:
    """The child's side: ignore Ctrl+C (the server's end ends it), lower its priority, run ``target``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.nice(CHILD_NICENESS)
    module, function = target.split(":")
    serve = getattr(importlib.import_module(module), function)
    serve(Connection(int(incoming_fd), writable=False), Connection(int(outgoing_fd), readable=False))


def at_low_priority(work: Callable[[], object], idle: bool = False, running: set[int] | None = None) -> None:
    """Run ``work`` on a thread of its own at CHILD_NICENESS, or with ``idle`` at Linux's SCHED_IDLE (a core only
    when nothing else wants it); wait for it and re-raise what it raised. Linux sets a thread's priority on its
    own, and the threads it makes inherit it. While it runs, the thread's native id is in ``running`` (to raise
    its priority again: os.setpriority).

    ``idle`` is for the work a child does before anyone waits for it, such as a training worker getting ready.
    At CHILD_NICENESS (or even nice 19) a worker importing TensorFlow held the Draw page's answers back: the
    server's part of a drawing's answer went from p95 50 ms to 72-77 ms while it got ready (bench/draw_latency.py,
    kernel 6.18, 2-core AMD EPYC); at SCHED_IDLE, 53-55 ms. A thread leaves SCHED_IDLE only with CAP_SYS_NICE,
    hence a thread that ends with the work. Not for work in the server itself: a thread there holds Python's
    lock, and at SCHED_IDLE on a busy machine the pages would wait for it.
    """
    failed: list[BaseException] = []
    running = set() if running is None else running

    def run() -> None:
        thread = threading.get_native_id()
        with contextlib.suppress(AttributeError, OSError):  # no per-thread priority here: run at the maker's
            if idle:
                os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # 0: this thread
            else:
                os.setpriority(os.PRIO_PROCESS, thread, CHILD_NICENESS)
        running.add(thread)
        try:
            work()
        except BaseException as error:  # noqa: BLE001 - handed to the waiting thread
            failed.append(error)
        finally:
            running.discard(thread)

    thread = threading.Thread(target=run, name="mnist-low-priority", daemon=True)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]


def end_with_parent() -> None:
    """The parent is gone (end of file on its pipe): nobody is left to answer, so end now.

    os._exit skips the interpreter's clean-up, which has nothing to do here (runs save atomically) and,
    with TensorFlow loaded, kept a worker alive 3-6 s after the server's exit (busy 2-core Intel Xeon,
    Sapphire Rapids); with os._exit it is gone at once."""
    os._exit(0)
