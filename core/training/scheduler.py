"""Training runs in worker processes: one server-wide FIFO queue and a few warm workers.

A run trained on a thread of the server shares the server's interpreter with every page of every
browser. Here ``ScheduledJob(config, data, store, save_name).start()`` puts the run in a queue;
up to ``MNIST_MAX_TRAINING`` worker processes take runs oldest first, train and save them with
``core.training.train_and_save`` (the same code TrainingJob runs), and send every Progress back
through a pipe. The handle has TrainingJob's interface (start, stop, snapshot, wait, running) plus its
place in the queue.

Each worker is a child process (core.training.child_process): a fresh interpreter at a lower priority.
A worker starts with the first run that needs it, or ahead of it (``prepare_worker``, which the dashboard
calls once its first page is served), and then stays: it imports TensorFlow and reads the server's digits as
it starts, once per worker, not once per run, and says when it is ready, so a page's estimate can count the
start of a cold one (``cold_start_seconds``).

A worker reads its pipe from the server after every chunk of steps. End of file there means the
server is gone, however it ended (exit, crash, SIGKILL), and the worker ends too: no orphans.

Fair to a class: a student has one run at a time here, queued or training (``student``; a second Start says so),
and the teacher can stop anyone's (``runs``, ``stop``). A worker says it is alive every HEARTBEAT_SECONDS from a
thread of its own; one silent for ``silence_seconds`` (frozen with SIGSTOP, hung with the interpreter held) is
ended by a watchdog, its run failed with a message, and the queue goes on with a fresh worker (issue 22: a frozen
worker had the next student wait for ever).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from pathlib import Path

from core.classroom.class_set import ClassDigits, with_class_digits
from core.data.mnist import MNIST_PATH_VARIABLE, MnistData, load_default
from core.model.config import TrainConfig
from core.model.store import ModelStore
from core.per_server import one_per_server
from core.settings import number_setting
from core.tensorflow_import import import_tensorflow
from core.training import ray_cluster
from core.training.child_process import Child, at_low_priority, end_with_parent, start_child
from core.training.job import train_and_save
from core.training.loop import warm_up_tensorflow
from core.training.progress import Progress, RunHandle, RunState
from core.training.ray_cluster import RAY_ADDRESS_VARIABLE, ray_address

MAX_TRAINING_VARIABLE = "MNIST_MAX_TRAINING"
RAY_RUNS_AT_ONCE = 8  # the default limit when RAY_ADDRESS sends runs to a cluster (see max_training_runs)
WORKER = "core.training.scheduler:serve_runs"  # what a worker process runs (core.training.child_process)
READY = -1  # the run id of a worker's "ready" message: no run has it (a heartbeat between runs says 0)
STOPPED_IN_QUEUE = "Stopped while waiting in the queue: nothing was trained or saved."
SHUT_DOWN = "The training service shut down before this run ended; start it again."
SILENCE_VARIABLE = "MNIST_WORKER_SILENCE_SECONDS"
# A worker that has said nothing this long is taken for frozen or hung and ended. It says it is alive every
# HEARTBEAT_SECONDS from a thread of its own, while importing TensorFlow, compiling or measuring accuracy too.
SILENCE_SECONDS = 60.0
HEARTBEAT_SECONDS = 1.0
# How long joining the Ray cluster at RAY_ADDRESS may take: ray.init() against a port that answers but is not
# Ray's retried for minutes, holding the training slot (issue 22). Joining a live cluster takes 2-5 s here.
RAY_CONNECT_SECONDS = 15.0
RETIRING = -1  # in a worker's message where the count of losses known goes: the worker ends after this message


class OneRunPerStudent(ValueError):
    """A student who already has a run queued or training started another; the message says what to do."""


def check_one_run(job: ScheduledJob, not_done) -> None:
    """Raise OneRunPerStudent when ``job``'s student has one of the runs ``not_done`` (ScheduledJobs) already."""
    if job.student is not None and any(other.student == job.student for other in not_done):
        who = job.owner or "You"
        raise OneRunPerStudent(
            f"{who} already {'has' if job.owner else 'have'} a run queued or training on this server (one at a time "
            "per student, so the class shares the queue fairly; maybe it was started in another tab): stop it on "
            "the Train page or wait until it ends, then start this one")


def max_training_runs() -> int:
    """How many runs train at once: ``MNIST_MAX_TRAINING``, else one per two cores (RAY_RUNS_AT_ONCE with Ray).

    TensorFlow spreads one run over all the cores it can get, so more runs at once mostly share
    the same cores; each waiting run keeps its place in the queue instead.
    Raises ValueError naming the variable when it is not a whole number of at least 1.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    # With a Ray cluster the workers only relay runs (no TensorFlow here) and the cluster queues what
    # it cannot place yet; RAY_RUNS_AT_ONCE keeps the relays' memory (~0.2 GB each) bounded.
    default = RAY_RUNS_AT_ONCE if ray_address() else max(1, cores // 2)
    text = os.environ.get(MAX_TRAINING_VARIABLE, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ValueError(
            f"{MAX_TRAINING_VARIABLE}={text!r} is not a number of training runs: set it to a whole number "
            f"of at least 1 (for example {default}), or unset it for one run per two cores ({default} here)"
        )
    return int(text)


class ScheduledJob(RunHandle):
    """One training run given to a TrainingScheduler; TrainingJob's interface, plus its place in the queue.

    data : the digits to train on, sent to the worker with the run (an upload); None for the
        server's own digits, which the worker loads itself instead of receiving tens of MB per run.
    store, save_name : the finished or stopped model is saved by the worker in ``store``'s folder
        under a free name based on ``save_name``; the final Progress says which (``saved_as``).
    class_digits : the folder of a class set (core.classroom.class_set.ClassDigits) whose drawings join the
        training digits, read by the worker when the run starts; None for none.
    student : who started it, for the one-run-per-student rule: any string naming the student (the dashboard uses
        their name, or their browser session for a student without one); None for no limit (the teacher, the CLI).
    The scheduler's threads replace the Progress under a lock, never change it (core.training.RunHandle),
    so ``snapshot()`` and ``wait()`` can be called from any thread at any time.
    """

    def __init__(self, config: TrainConfig, data: MnistData | None = None, store: ModelStore | None = None,
                 save_name: str = "model", scheduler: TrainingScheduler | None = None, owner: str = "",
                 class_digits: str | os.PathLike | None = None, student: str | None = None):
        super().__init__(config)
        self.data = data
        self.class_digits = str(Path(class_digits).resolve()) if class_digits is not None else None
        self.store = store
        self.save_name = save_name
        self.owner = owner  # the student the saved model belongs to (core.model.store); "" for nobody
        self.student = student
        self._scheduler = scheduler
        self._run_id = 0  # given by the scheduler on start(); 0 = not started

    def start(self) -> ScheduledJob:
        """Queue the run (on the server's scheduler unless one was given); it starts when a worker is free.

        Raises OneRunPerStudent when its ``student`` has a run queued or training already."""
        self._scheduler = self._scheduler or server_scheduler()
        self._run_id = self._scheduler.submit(self)
        return self

    def stop(self) -> None:
        """Queued: the run leaves the queue and ends as stopped, untrained. Training: it stops after the current
        chunk of steps (well within a second) and the model trained so far is saved."""
        if self._run_id:
            self._scheduler.stop(self._run_id)

    @property
    def running(self) -> bool:
        """True from start() until the run is finished, stopped or failed, queued time included."""
        return bool(self._run_id) and not self.snapshot().done

    @property
    def queue_position(self) -> int:
        """1 for the next run to start, 2 for the one after...; 0 once training (or done, or not started)."""
        return self._scheduler.queue_position(self._run_id) if self._run_id else 0

    @property
    def estimated_start_seconds(self) -> float | None:
        """Seconds until a queued run should start, from the time left of the runs ahead; None when unknown."""
        return self._scheduler.estimated_start_seconds(self._run_id) if self._run_id else None

    @property
    def worker_pid(self) -> int | None:
        """The process id of the worker training this run; None while queued and once done."""
        return self._scheduler.worker_pid(self._run_id) if self._run_id else None


@dataclass(frozen=True)
class RunStatus:
    """One run in progress or queued, as TrainingScheduler.runs lists it."""

    run_id: int  # what TrainingScheduler.stop takes
    job: ScheduledJob  # its owner, config and latest Progress (job.snapshot())
    queue_position: int = 0  # 1 for the next run to start...; 0 while training
    starts_in_seconds: float | None = None  # a queued run's estimated wait (estimated_start_seconds)


@dataclass(frozen=True)
class _Task:
    """A run as its worker receives it."""

    run_id: int
    config: TrainConfig
    data: MnistData | None  # an upload travels with its run; None: the worker loads the server's digits
    mnist_path: str | None  # the server's MNIST_PATH when the run was started, for data=None
    store: ModelStore | None
    save_name: str
    ray_address: str | None  # the server's RAY_ADDRESS when the run was started: None trains in the worker
    owner: str = ""  # the student the saved model belongs to
    class_digits: str | None = None  # a class set's folder whose drawings join the training digits; None: none


@dataclass
class _Worker:
    """The server's side of one worker process."""

    child: Child  # to_child: a _Task starts a run, a run id (int) stops it; from_child: (run_id, message)
    run_id: int | None = None  # the run it trains; None when idle
    started: float = field(default_factory=time.monotonic)
    ready: bool = False  # it has imported TensorFlow and read the server's digits (it sent READY)
    # Held while sending: a Stop (from a page) and a task (from whichever thread dispatches) must
    # not interleave on the pipe, and a Stop must not overtake the task of its own run.
    send_lock: threading.Lock = field(default_factory=threading.Lock)
    last_heard: float = field(default_factory=time.monotonic)  # when it last sent anything (time.monotonic)
    silenced: bool = False  # ended by the watchdog for saying nothing too long
    retiring: bool = False  # it said it ends after its last message (RETIRING): no new run for it

    def send(self, message: _Task | int) -> None:
        """Send with ``send_lock`` held, unless the worker just died (its reader thread fails the run)."""
        with contextlib.suppress(OSError):
            self.child.to_child.send(message)


class TrainingScheduler:
    """Up to ``max_workers`` worker processes taking runs from one FIFO queue.

    max_workers : runs trained at once; None reads MNIST_MAX_TRAINING (see max_training_runs).
    Workers end by themselves when the server process ends (see the module docstring). A worker
    that dies mid-run fails that run with a message, and the next queued run gets a fresh worker.
    """

    def __init__(self, max_workers: int | None = None, silence_seconds: float | None = None):
        self.max_workers = max_training_runs() if max_workers is None else max_workers
        if self.max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {self.max_workers}")
        self.silence_seconds = silence_seconds if silence_seconds is not None else _silence_seconds()
        self._lock = threading.Lock()  # guards everything below; taken before any job's own lock
        self._queue: deque[_Task] = deque()  # runs waiting for a worker, oldest first
        self._jobs: dict[int, ScheduledJob] = {}  # every run not done yet, queued or training
        self._workers: list[_Worker] = []
        self._run_ids = itertools.count(1)  # from 1: 0 is a heartbeat between runs, READY (-1) a worker ready
        self._closed = False
        self._watchdog: threading.Thread | None = None
        self._cold_start: float | None = None  # seconds the last worker took from its start to READY

    def submit(self, job: ScheduledJob) -> int:
        """Queue ``job`` and return its run id; ScheduledJob.start calls this. Raises OneRunPerStudent when the
        job's student has a run not done yet."""
        with self._lock:
            if self._closed:
                raise RuntimeError("this training scheduler has shut down; make a new one")
            check_one_run(job, self._jobs.values())
            run_id = next(self._run_ids)
            self._queue.append(_Task(run_id, job.config, job.data, os.environ.get(MNIST_PATH_VARIABLE) or None,
                                     job.store, job.save_name, ray_address(), job.owner, job.class_digits))
            self._jobs[run_id] = job
        self._dispatch()
        return run_id

    def stop(self, run_id: int) -> None:
        """A queued run ends at once as stopped; a training one gets a Stop its worker reads after the chunk."""
        with self._lock:
            queued = next((task for task in self._queue if task.run_id == run_id), None)
            if queued is not None:
                self._queue.remove(queued)
                job = self._jobs.pop(run_id)
                job.publish(replace(job.snapshot(), state=RunState.STOPPED, stopped=True, message=STOPPED_IN_QUEUE))
                return
            worker = self._worker_of(run_id)
        if worker is not None:
            with worker.send_lock:
                worker.send(run_id)

    def queue_position(self, run_id: int) -> int:
        with self._lock:
            return next((place for place, task in enumerate(self._queue, 1) if task.run_id == run_id), 0)

    def estimated_start_seconds(self, run_id: int) -> float | None:
        """The run at queue position p starts when the p-th worker slot frees up: that slot's run's
        ``eta_seconds``. Unknown (None) when a run ahead has no estimate yet, and when p exceeds the
        slots, since then a run still queued must finish first and nobody knows how long it takes."""
        with self._lock:
            position = next((place for place, task in enumerate(self._queue, 1) if task.run_id == run_id), 0)
            return self._start_in(position)

    def runs(self) -> list[RunStatus]:
        """Every run not done yet, those training first, then the queue in its order: what the teacher's Runs
        page lists (and stops with ``stop``)."""
        with self._lock:
            training = [RunStatus(worker.run_id, self._jobs[worker.run_id])
                        for worker in self._workers if worker.run_id in self._jobs]
            queued = [RunStatus(task.run_id, self._jobs[task.run_id], place, self._start_in(place))
                      for place, task in enumerate(self._queue, 1)]
        return training + queued

    def _start_in(self, position: int) -> float | None:
        """estimated_start_seconds of the run at queue ``position``; called with the lock held."""
        if not position or position > self.max_workers:
            return None
        free_in = [self._jobs[worker.run_id].snapshot().eta_seconds if worker.run_id else 0.0
                   for worker in self._workers]
        free_in += [0.0] * (self.max_workers - len(self._workers))  # slots with no worker started yet
        if None in free_in:
            return None
        return sorted(free_in)[position - 1]

    def prepare_worker(self) -> None:
        """Start one worker ahead of the first run, if none is running: it imports TensorFlow and reads the
        server's digits at its low priority while nobody waits (dashboard/warm_up.py, once the first page is
        served), so the class's first run starts at once."""
        with self._lock:
            if not self._workers and not self._closed:
                with contextlib.suppress(OSError):  # no process could start: the first run tries again and says so
                    self._start_worker()

    def cold_start_seconds(self) -> float | None:
        """How long a run started now would wait for a worker to get ready, the queue aside: 0 when an idle worker
        is ready or none is free (a busy one is warm when it frees up); what is left of the last measured start-up
        while an idle one warms up, or all of it when a new one must start; None before any was measured."""
        with self._lock:
            idle = [worker for worker in self._workers if worker.run_id is None and worker.child.alive]
            if any(worker.ready for worker in idle) or (not idle and len(self._workers) >= self.max_workers):
                return 0.0
            if self._cold_start is None:
                return None
            if idle:
                return max(0.0, self._cold_start - (time.monotonic() - max(worker.started for worker in idle)))
            return self._cold_start

    def worker_pid(self, run_id: int) -> int | None:
        with self._lock:
            worker = self._worker_of(run_id)
            return worker.child.process.pid if worker is not None else None

    def shutdown(self) -> None:
        """End every worker now; runs not done end as failed. A server need not call this (see the class)."""
        with self._lock:
            self._closed = True
            unfinished = list(self._jobs.values())
            self._jobs.clear()
            self._queue.clear()
            workers = list(self._workers)
        for job in unfinished:
            job.publish(replace(job.snapshot(), state=RunState.FAILED, message=SHUT_DOWN))
        for worker in workers:
            worker.child.process.terminate()
            worker.child.process.wait()

    def _worker_of(self, run_id: int) -> _Worker | None:
        return next((worker for worker in self._workers if worker.run_id == run_id), None)

    def _dispatch(self) -> None:
        """Hand queued runs to idle workers, oldest first, starting workers up to the limit."""
        handed: list[tuple[_Worker, _Task]] = []
        with self._lock:
            while self._queue and not self._closed:
                # Idle and alive: a worker that just died is still listed until its reader removes it.
                worker = next((worker for worker in self._workers if worker.run_id is None and not worker.retiring
                               and worker.child.process.poll() is None), None)
                if worker is None and sum(not worker.retiring for worker in self._workers) < self.max_workers:
                    try:
                        worker = self._start_worker()
                    except OSError as error:  # no process could start: out of memory, too many open files
                        task = self._queue.popleft()
                        self._jobs.pop(task.run_id).publish(Progress(
                            epochs=task.config.epochs, state=RunState.FAILED,
                            message=f"No training worker could be started on this server ({error}); "
                                    "try again in a moment."))
                        continue
                if worker is None:
                    break
                task = self._queue.popleft()
                worker.run_id = task.run_id
                worker.last_heard = time.monotonic()
                worker.send_lock.acquire()  # before a Stop for this run can find the worker
                handed.append((worker, task))
        # Sent outside the lock: an upload is tens of MB, and a new worker reads it only once Python is up.
        for worker, task in handed:
            try:
                worker.send(task)
            finally:
                worker.send_lock.release()

    def _start_worker(self) -> _Worker:
        """Start one worker and the thread that reads its results (and the watchdog); called with the lock held."""
        worker = _Worker(start_child(WORKER))
        self._workers.append(worker)
        threading.Thread(target=self._read, args=(worker,), name=f"mnist-training-reader-{worker.child.process.pid}",
                         daemon=True).start()
        if self._watchdog is None:
            self._watchdog = threading.Thread(target=self._watch, name="mnist-training-watchdog", daemon=True)
            self._watchdog.start()
        return worker

    def _watch(self) -> None:
        """End every worker that has said nothing for silence_seconds while it had a run; until shut down."""
        while not self._closed:
            time.sleep(min(HEARTBEAT_SECONDS, self.silence_seconds / 4))
            now = time.monotonic()
            with self._lock:
                silent = [worker for worker in self._workers if worker.run_id is not None and not worker.silenced
                          and now - worker.last_heard > self.silence_seconds]
                for worker in silent:
                    worker.silenced = True
            for worker in silent:  # its reader sees the end of its pipe and fails its run (_read)
                worker.child.process.kill()

    def _read(self, worker: _Worker) -> None:
        """Apply one worker's Progress to its run until the worker is gone (end of file on its pipe)."""
        while True:
            try:
                run_id, known_losses, progress = worker.child.from_child.recv()
            except (EOFError, OSError):
                break
            worker.last_heard = time.monotonic()
            if run_id == READY:  # warmed up: TensorFlow imported, the digits read (serve_runs)
                with self._lock:
                    worker.ready = True
                    self._cold_start = time.monotonic() - worker.started
                continue
            if progress is None:  # a heartbeat: the worker is alive
                continue
            if known_losses == RETIRING:
                worker.retiring = True
                known_losses = 0
            with self._lock:
                job = self._jobs.get(run_id)
                if job is None:  # the scheduler shut down meanwhile
                    continue
                # The worker sends only the batch losses after the first ``known_losses`` (see serve_runs).
                known = job.snapshot()
                job.publish(replace(progress, batch_losses=known.batch_losses[:known_losses] + progress.batch_losses,
                                    lecture_losses=known.lecture_losses[:known_losses] + progress.lecture_losses))
                if progress.done:
                    del self._jobs[run_id]
                    worker.run_id = None
            if progress.done:
                self._dispatch()
        worker.child.process.wait()
        with self._lock:
            self._workers.remove(worker)
            job = self._jobs.pop(worker.run_id, None) if worker.run_id else None
        with worker.send_lock:  # not under a send: its file descriptor could be reused meanwhile
            worker.child.to_child.close()
        worker.child.from_child.close()
        if job is not None:
            message = (_silence_message(self.silence_seconds) if worker.silenced
                       else _death_message(worker.child.process.returncode))
            job.publish(replace(job.snapshot(), state=RunState.FAILED, message=message))
        self._dispatch()  # a fresh worker for the runs still queued


def _death_message(exitcode: int) -> str:
    if exitcode == -signal.SIGKILL:
        how = "was killed (SIGKILL), most often because the machine ran out of memory"
    else:
        how = f"ended unexpectedly (exit code {exitcode}; the server's log says why)"
    return (f"The training process {how}. The run is lost and no model was saved. Start it again; if it "
            f"happens again, train a smaller network or lower {MAX_TRAINING_VARIABLE} so fewer runs share memory.")


def _silence_message(seconds: float) -> str:
    return (f"The training process sent nothing for {seconds:g} s ({SILENCE_VARIABLE}): it was frozen or hung, so it "
            "was ended. The run is lost and no model was saved; start it again.")


def _silence_seconds() -> float:
    """MNIST_WORKER_SILENCE_SECONDS, else SILENCE_SECONDS; ValueError naming the variable."""
    return number_setting(SILENCE_VARIABLE, SILENCE_SECONDS, minimum=1)


# The scheduler every session of this server shares, made on first use; raises ValueError for a bad
# MNIST_MAX_TRAINING. Its workers start only with the first run.
server_scheduler = one_per_server(TrainingScheduler)


class _Sender:
    """The worker's end of the results pipe, shared by its main thread and its heartbeat thread."""

    def __init__(self, results: Connection):
        self._results = results
        self._lock = threading.Lock()
        self.run_id = 0  # the run being trained; 0 between runs

    def send(self, message: tuple) -> None:
        """Send ``message`` to the server; if the server has gone (a broken pipe), end this worker."""
        try:
            with self._lock:
                self._results.send(message)
        except OSError:
            end_with_parent()

    def beat(self) -> None:
        """Say the worker is alive every HEARTBEAT_SECONDS, for the server's watchdog; until the server goes."""
        while True:
            time.sleep(HEARTBEAT_SECONDS)
            self.send((self.run_id, 0, None))


def serve_runs(tasks: Connection, results: Connection) -> None:
    """A worker process (core.training.child_process): get ready (TensorFlow, the server's digits) and say so,
    then take a run, train and save it, send its Progress back; until the server goes."""
    sender = _Sender(results)
    threading.Thread(target=sender.beat, name="mnist-worker-heartbeat", daemon=True).start()
    if not ray_address():  # a relay to a Ray cluster trains nothing here
        with contextlib.suppress(Exception):  # a run that comes anyway says what is wrong
            _get_ready()
    sender.send((READY, 0, None))
    while True:
        try:
            message = tasks.recv()
        except EOFError:
            end_with_parent()
        if not isinstance(message, _Task):
            continue  # a Stop that came after its run ended
        task = message
        sender.run_id = task.run_id

        sent = 0  # this run's batch losses the server has already

        def publish(progress: Progress, run_id: int = task.run_id, retiring: bool = False) -> None:
            """Send the Progress with only its new batch losses: the whole history every chunk grew with the run
            (a 5-epoch lecture run ends at 9,375 losses), sent several times a second. retiring: this worker
            ends after this message (its losses then start from none)."""
            nonlocal sent
            start = 0 if retiring else sent
            sender.send((run_id, RETIRING if retiring else sent,
                         replace(progress, batch_losses=progress.batch_losses[start:],
                                 lecture_losses=progress.lecture_losses[start:])))
            sent = max(sent, len(progress.batch_losses))

        try:
            data = task.data if task.data is not None else _server_digits(task.mnist_path)
            if task.class_digits is not None:  # the drawings as they are now, so a queued run gets the latest
                data = with_class_digits(data, ClassDigits(task.class_digits).load())
        except Exception as error:  # the run fails with what went wrong; the worker takes the next one
            publish(Progress(epochs=task.config.epochs, state=RunState.FAILED,
                             message=f"The digits for this run could not be read: {error}"))
            continue

        train_here = _trainer(task.ray_address, publish, Progress(epochs=task.config.epochs))
        if train_here is not None:
            train_here(task.config, data, task.store, task.save_name, publish=publish,
                       should_stop=lambda: _stop_requested(tasks, task.run_id), owner=task.owner)
        sender.run_id = 0
        _forget_run()


def _get_ready() -> None:
    """What a worker does before its first run, while nobody waits: import TensorFlow, read the server's digits and
    run TensorFlow's first compiled function, all at idle priority (at_low_priority: the class's drawings go
    first), except TensorFlow's first operation, which makes its thread pools: threads keep their maker's
    priority, and the runs train on those pools at CHILD_NICENESS."""
    at_low_priority(lambda: (import_tensorflow(), _server_digits(os.environ.get(MNIST_PATH_VARIABLE) or None)),
                    idle=True)
    tf = import_tensorflow()  # imported just above: only bound here
    tf.add(tf.constant(1.0), 1.0)  # the thread pools, made by this thread at CHILD_NICENESS
    at_low_priority(warm_up_tensorflow, idle=True)


def _forget_run() -> None:
    """Let go of what the run built. Each run makes its own network, optimizer and compiled step functions, and
    Keras keeps what it made reachable from its global state until that is cleared ("creating many models in a
    loop", keras.backend.clear_session). A warm worker trains run after run: without this it grew by about
    50 MB a run (1,015 -> 1,269 MB over a class's five lecture runs, bench/classroom.py, 2-core AMD EPYC)."""
    if "keras" not in sys.modules:  # a worker that has only relayed runs to Ray never loaded it
        return
    import keras  # loaded by the run: only bound here

    keras.backend.clear_session(free_memory=True)


_connected_to: str | None = None  # the Ray cluster this worker joined, if any


def _trainer(address: str | None, publish, last: Progress):
    """How this worker trains a run: core.training.train_and_save here, or on the Ray cluster at ``address``.

    The worker joins the cluster with its first run, on its own main thread (see core/ray_cluster.py).
    When no cluster answers, the run fails with that message and None is returned.
    """
    global _connected_to
    if address is None:
        return train_and_save
    if _connected_to != address:
        # ray.init() cannot be interrupted: past RAY_CONNECT_SECONDS the run fails and this worker ends (the
        # server starts a fresh one for the next run).
        give_up = threading.Timer(RAY_CONNECT_SECONDS, _give_up_joining, args=(address, publish, last))
        give_up.daemon = True
        give_up.start()
        try:
            ray_cluster.connect(address)
        except RuntimeError as error:
            publish(replace(last, state=RunState.FAILED, message=str(error)))
            return None
        finally:
            give_up.cancel()
        _connected_to = address
    return ray_cluster.train_and_save_on_ray


def _give_up_joining(address: str, publish, last: Progress) -> None:
    """The run fails with why, and this worker ends: ray.init() has not returned within RAY_CONNECT_SECONDS."""
    publish(replace(last, state=RunState.FAILED, message=(
        f"Nothing at {RAY_ADDRESS_VARIABLE}={address} answered as a Ray cluster within {RAY_CONNECT_SECONDS:g} s: "
        "the port is open, but it is not a Ray cluster's, or the cluster is stuck. Check the address (`ray status` "
        "on the cluster's head), or unset RAY_ADDRESS to train on this machine.")), retiring=True)
    os._exit(1)


def _stop_requested(tasks: Connection, run_id: int) -> bool:
    """Read what the server sent during the last chunk: a Stop for this run, or the end of the server."""
    stop = False
    try:
        while tasks.poll():
            stop = tasks.recv() == run_id or stop
    except EOFError:
        end_with_parent()
    return stop


@functools.lru_cache(maxsize=1)
def _server_digits(mnist_path: str | None) -> MnistData:
    """The digits the dashboard shows by default (core.data.load_default), kept for the worker's life
    as dashboard/caches.py keeps them for the server's: core.data caches files, but not an offline
    download probe (3 s) that ends in the sample."""
    return load_default(mnist_path)[0]
