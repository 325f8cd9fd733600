"""How long a training run will take on this machine, said before it starts.

``estimate_seconds(config, train_digits, test_digits)`` times a few gradient steps of the config's
network, compiled as ``core.training.train`` compiles them (same batch size, same augmentation),
on random digits, and scales them up to the whole run. What changes speed is the network's shape,
not its learning rate, seed or number of epochs: one calibration per shape (``speed_key``) and
process is kept, so asking again for the same network is free. A calibration costs about the
time it takes to compile the network's step function (0.2 s for the lecture's MLP, 1-2 s for a
CNN) plus 0.5 s of steps; ``calibrate`` runs it on the caller's thread (the CLI, the benches),
``server_calibrator().calibrate`` in a child process (the dashboard's server, see ChildCalibrator).

    seconds = estimate_seconds(preset("cnn"), train_digits=60_000, test_digits=10_000)
    format_estimate(seconds)  # 'about 2 min here'
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection

import numpy as np

from core.evaluation.metrics import evaluate_accuracy, train_accuracy_sample
from core.model.config import TrainConfig, describe_network
from core.model.network import network_size
from core.per_server import one_per_server
from core.settings import number_setting
from core.training.child_process import Child, end_with_parent, start_child
from core.training.loop import compile_training, step_counts, warm_up_tensorflow

# Warm steps are timed until they have lasted this long: the step time of the slowest
# preset then varies by a few percent between calibrations on a quiet machine.
WARM_SECONDS = 0.5
FIRST_CHUNK_STEPS = 2  # the call that traces and compiles the step function
PREDICT_DIGITS = 1000  # one batch of core.model.predict: timed once cold (tracing) and once warm
CALIBRATOR = "core.training.estimate:serve_calibrations"  # what the calibrating child runs (ChildCalibrator)


@dataclass(frozen=True)
class Calibration:
    """What one network shape costs here, measured once per process."""

    build_seconds: float  # build_model, the optimizer and the digits as tensors
    compile_seconds: float  # the first call's extra time: tracing and compiling the step function
    step_seconds: float  # one warm gradient step of config.batch_size digits
    predict_compile_seconds: float  # the first prediction's extra time (Keras traces its predict function)
    predict_seconds_per_digit: float  # accuracy on the validation, training sample and test digits
    # Importing TensorFlow and its first compiled function in a fresh process: what a cold training worker
    # pays before its first step (core.training.scheduler.TrainingScheduler.cold_start_seconds).
    startup_seconds: float = 0.0


def speed_key(config: TrainConfig) -> tuple:
    """The fields of ``config`` that change how fast it trains; equal keys share a calibration.

    A page can cache its estimate by this key: learning rate, schedule, seed, epochs and
    validation split change the estimate's arithmetic, not the calibration.
    """
    return (config.architecture, config.hidden_units, config.conv_filters if config.architecture == "cnn" else (),
            config.activation, config.dropout > 0, config.batch_norm, config.optimizer, config.batch_size,
            config.augment)


_calibrations: dict[tuple, Calibration] = {}
_startup = [0.0]  # seconds this process took to import TensorFlow and run its first compiled function
_lock = threading.Lock()  # one calibration at a time: two at once would slow each other down
_warmed = False  # whether _warm_up ran in this process


def calibrate(config: TrainConfig) -> Calibration:
    """The Calibration of ``config``'s network shape: measured on first use, then kept."""
    config.validate()
    key = speed_key(config)
    with _lock:
        _warm_up()
        if key not in _calibrations:
            _calibrations[key] = replace(_measure(config), startup_seconds=_startup[0])
        return _calibrations[key]


def estimate_seconds(config: TrainConfig, train_digits: int, test_digits: int,
                     calibration: Calibration | None = None) -> float:
    """Expected wall seconds of ``train(config, data)`` here, for data with that many digits.

    Counts what ``train`` does: build and compile, every gradient step, the validation digits
    after each epoch, then the training-accuracy sample and the test digits.
    calibration : the config's Calibration if the caller has one (ChildCalibrator's); else ``calibrate(config)``.
    Raises ValueError for a bad config, or when not one batch fits in ``train_digits``.
    """
    config.validate()
    steps_per_epoch, held_out = step_counts(config, train_digits)
    calibration = calibration or calibrate(config)
    predicted = config.epochs * held_out + len(train_accuracy_sample(train_digits - held_out)) + test_digits
    return (calibration.build_seconds + calibration.compile_seconds
            + config.epochs * steps_per_epoch * calibration.step_seconds
            + calibration.predict_compile_seconds + predicted * calibration.predict_seconds_per_digit)


class CalibrationRefused(ValueError):
    """A network too large or too slow to time on this server; the message says which and what to do instead."""


@dataclass(frozen=True)
class Estimate:
    """How long a run will take here, and whether that is only a first guess.

    rough : True when the run's network has not been timed yet (another student's is being timed, or the
        timing process is starting): the figure is then scaled from the network's size and the shapes timed
        so far (rough_calibration), and a later look gives the timed one.
    """

    seconds: float  # the whole run, a cold training worker's start included (cold_seconds)
    rough: bool = False
    startup_seconds: float = 0.0  # how long the timing process took to start TensorFlow (0 while rough)
    cold_seconds: float = 0.0  # of ``seconds``, the start of a training worker that is not ready yet

    def with_cold_start(self, seconds: float) -> Estimate:
        """This estimate with a training worker's start of ``seconds`` added; under a second is left out."""
        return replace(self, seconds=self.seconds + seconds, cold_seconds=seconds) if seconds >= 1 else self

    def duration(self) -> str:
        """'about 40 s here', or 'about 50 s here, of which about 10 s to start a training process'."""
        cold = f", of which about {self.cold_seconds:.0f} s to start a training process" if self.cold_seconds else ""
        return format_estimate(self.seconds) + cold

    def text(self) -> str:
        """duration(), and ' (a first guess)' for a rough one."""
        return self.duration() + (" (a first guess)" if self.rough else "")


# The server's calibrations are bounded, since a page asks for any network a link describes (issue 22: a huge
# one took the timing process to 2.5 GB and out of memory, and a slow one made another student wait 12 s):
CALIBRATION_SECONDS_VARIABLE = "MNIST_CALIBRATION_SECONDS"
# Timing one network (compile, 0.5 s of steps, two predictions) takes 1-3 s for every preset here (AMD EPYC and
# Intel Xeon, 2 cores); a network whose timing takes 30 s has steps of seconds and would train for hours.
CALIBRATION_SECONDS = 30.0
CALIBRATION_MEMORY_VARIABLE = "MNIST_CALIBRATION_MEMORY_MB"
# The timing process's whole memory: TensorFlow alone takes about 0.5 GB, every preset's timing under 0.1 GB more.
CALIBRATION_MEMORY_MB = 2048
# The longest a page waits for its network's timing. A network timed before answers at once; one being timed
# for someone else, or queued behind it, gets a rough Estimate after this, and its own timing comes later.
WAIT_SECONDS = 1.0
# How long the timing process may take to start: importing TensorFlow takes 3-15 s on a busy 2-core machine.
CHILD_START_SECONDS = 180.0
POLL_SECONDS = 0.1  # how often a calibration's memory and time are checked
MAX_WAITING_SHAPES = 32  # shapes queued for timing; beyond, a page gets rough estimates until the queue drains
# The training throughput a rough estimate assumes before any network has been timed here, in FLOP/s: the
# presets trained at 20-60 GFLOP/s on the 2-core machines of the README (a cnn run measured 3 x 4.0 MFLOP x
# 60,000 digits x 12 epochs in 74 s).
DEFAULT_FLOPS_PER_SECOND = 2e10


def training_memory_bytes(config: TrainConfig) -> int:
    """About how many bytes timing (or training) ``config``'s network takes beyond TensorFlow's own: float32
    weights with their gradients and two optimizer slots, each layer's output kept for the backward pass with
    its gradient and a temporary, for a batch; and the timing's random digits. Counted, never built."""
    size = network_size(config)
    digits = max(config.batch_size, PREDICT_DIGITS)
    return 4 * (4 * size.parameters + 3 * config.batch_size * size.activations) + digits * 28 * 28 * 5


def rough_calibration(config: TrainConfig, timed: list[tuple[TrainConfig, Calibration]]) -> Calibration:
    """A Calibration for ``config`` guessed from its network's size, at the throughput the ``timed`` networks
    reached here (DEFAULT_FLOPS_PER_SECOND when none was timed): for an Estimate while its own is being timed."""
    rates = sorted(3 * network_size(other).flops * other.batch_size / calibration.step_seconds
                   for other, calibration in timed if calibration.step_seconds > 0)
    rate = rates[len(rates) // 2] if rates else DEFAULT_FLOPS_PER_SECOND
    flops = network_size(config).flops
    compile_seconds = max((calibration.compile_seconds for _, calibration in timed), default=1.0)
    return Calibration(build_seconds=0.1, compile_seconds=compile_seconds,
                       step_seconds=3 * flops * config.batch_size / rate, predict_compile_seconds=compile_seconds / 2,
                       predict_seconds_per_digit=flops / rate)


class ChildCalibrator:
    """Calibrations measured in one long-lived child process, kept per network shape, each within limits.

    A calibration compiles TensorFlow functions and runs them on every core for a few seconds. In the
    dashboard's server that held the interpreter every other session waits for: in a 10-student class
    (bench/classroom.py), the first Train page's calibration took 5.3 s of the server's CPU, more than all
    the drawings' answers together. The child (core.training.child_process) runs at a lower priority, keeps
    TensorFlow warm between shapes, and ends when its parent does.

    Shapes are timed one at a time, oldest request first, by a thread of this object; a caller waits at most
    as long as it says (``wait``). A shape whose training_memory_bytes would take the child past
    ``memory_mb`` is refused before anything is built; one that still does, or takes more than
    ``seconds_per_shape`` to time, ends the child (the next shape gets a fresh one) and is refused
    (CalibrationRefused), kept like a timing.
    seconds_per_shape, memory_mb : the limits; None reads MNIST_CALIBRATION_SECONDS and MNIST_CALIBRATION_MEMORY_MB.
    """

    def __init__(self, seconds_per_shape: float | None = None, memory_mb: float | None = None):
        self.seconds_per_shape = seconds_per_shape or number_setting(
            CALIBRATION_SECONDS_VARIABLE, CALIBRATION_SECONDS, positive=True)
        memory_mb = memory_mb or number_setting(CALIBRATION_MEMORY_VARIABLE, CALIBRATION_MEMORY_MB, positive=True)
        self.memory_bytes = int(memory_mb * 2**20)
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)  # notified whenever a shape's answer is kept
        self._kept: dict[tuple, Calibration | Exception] = {}  # a Calibration, or why the shape was refused
        self._timed: list[tuple[TrainConfig, Calibration]] = []  # for rough estimates
        self._waiting: dict[tuple, TrainConfig] = {}  # shapes to time, oldest first
        self._now: TrainConfig | None = None  # the one being timed
        self._timer: threading.Thread | None = None  # the thread that times them, while there are any
        self._child: Child | None = None  # touched by the timer thread only
        self._base_bytes = 0  # the child's memory once TensorFlow is warm

    def calibrate(self, config: TrainConfig, wait: float | None = None) -> Calibration | None:
        """The Calibration of ``config``'s network shape, measured in the child on first use, then kept.

        wait : the most seconds to wait for it; None waits until it is timed or refused. Returns None when the
            shape is not timed within ``wait`` (it goes on being timed; ask again later).
        Raises ValueError for a bad config, CalibrationRefused beyond the limits, RuntimeError when the child
        cannot start or answer.
        """
        config.validate()
        key = speed_key(config)
        with self._lock:
            if isinstance(self._kept.get(key), RuntimeError):  # the child failed then: try again now
                del self._kept[key]
            if key not in self._kept and key not in self._waiting:
                if len(self._waiting) >= MAX_WAITING_SHAPES and wait is not None:
                    return None
                self._waiting[key] = config
                if self._timer is None:
                    self._timer = threading.Thread(target=self._time_waiting, name="mnist-calibrations", daemon=True)
                    self._timer.start()
            self._settled.wait_for(lambda: key in self._kept, wait)
            answer = self._kept.get(key)
        if isinstance(answer, Exception):
            raise type(answer)(str(answer))  # a fresh one each time: the kept one never collects tracebacks
        return answer

    def estimate(self, config: TrainConfig, train_digits: int, test_digits: int,
                 wait: float | None = WAIT_SECONDS) -> Estimate:
        """How long ``train(config, data)`` takes here for data with that many digits: timed when the shape's
        Calibration arrives within ``wait`` seconds, else rough (see Estimate). Raises as ``calibrate``."""
        calibration = self.calibrate(config, wait)
        if calibration is not None:
            return Estimate(estimate_seconds(config, train_digits, test_digits, calibration),
                            startup_seconds=calibration.startup_seconds)
        with self._lock:
            timed = list(self._timed)
        return Estimate(estimate_seconds(config, train_digits, test_digits, rough_calibration(config, timed)),
                        rough=True)

    def known(self, config: TrainConfig) -> bool:
        """Whether ``config``'s network shape was asked for: timed, refused, being timed or waiting."""
        key = speed_key(config)
        with self._lock:
            return key in self._kept or key in self._waiting

    @property
    def timing(self) -> TrainConfig | None:
        """The config whose shape the child is timing now; None when it is idle."""
        with self._lock:
            return self._now

    def pid(self) -> int | None:
        """The child's process id; None before the first question, and while none is running."""
        child = self._child
        return child.process.pid if child is not None and child.alive else None

    def _time_waiting(self) -> None:
        """The timer thread: time the waiting shapes one by one, then end (the next request starts another)."""
        while True:
            with self._lock:
                if not self._waiting:
                    self._timer = None
                    return
                key, config = next(iter(self._waiting.items()))
                self._now = config
            try:
                answer: Calibration | Exception = self._time(config)
            except (ValueError, RuntimeError) as error:
                answer = error
            except Exception as error:  # noqa: BLE001 - this thread must go on to the next shape whatever happens
                answer = RuntimeError(f"timing the training steps failed ({type(error).__name__}: {error})")
            with self._lock:
                del self._waiting[key]
                self._now = None
                self._kept[key] = answer
                if isinstance(answer, Calibration):
                    self._timed.append((config, answer))
                self._settled.notify_all()

    def _time(self, config: TrainConfig) -> Calibration:
        """One shape timed in the child, within the limits; raises CalibrationRefused or RuntimeError."""
        needed = training_memory_bytes(config)
        if needed > self.memory_bytes:  # refused before the child builds anything
            raise self._too_large(config, needed)
        child = self._ready_child()
        if self._base_bytes + needed > self.memory_bytes:
            raise self._too_large(config, self._base_bytes + needed)
        try:
            child.to_child.send(config)
        except OSError:  # the child died since the last question
            self._end_child()
            raise RuntimeError("the process that times training steps ended before it answered") from None
        deadline = time.monotonic() + self.seconds_per_shape
        while not child.from_child.poll(POLL_SECONDS):
            if (_memory_bytes(child.process.pid) or 0) > self.memory_bytes:
                self._end_child()
                raise self._too_large(config, self.memory_bytes)
            if time.monotonic() > deadline:
                self._end_child()
                raise CalibrationRefused(
                    f"the network {describe_network(config)} with batches of {config.batch_size} took more than "
                    f"{self.seconds_per_shape:g} s to time a few of its steps ({CALIBRATION_SECONDS_VARIABLE}): "
                    "it would train for hours here. Choose fewer or smaller layers, or smaller batches")
            if not child.alive:
                break
        try:
            answer = child.from_child.recv()
        except (EOFError, OSError):  # the child died: killed, or out of memory
            self._end_child()
            raise RuntimeError("the process that times training steps ended before it answered") from None
        if isinstance(answer, ValueError):
            raise answer
        return answer

    def _ready_child(self) -> Child:
        """The child, started (and TensorFlow warmed up in it) if none is running; raises RuntimeError."""
        if self._child is not None and self._child.alive:
            return self._child
        self._end_child()
        try:
            child = start_child(CALIBRATOR)
        except OSError as error:
            raise RuntimeError(f"no process could be started to time training steps ({error})") from None
        self._child = child
        if not child.from_child.poll(CHILD_START_SECONDS):
            self._end_child()
            raise RuntimeError(f"the process that times training steps did not start within {CHILD_START_SECONDS:g} s")
        try:
            child.from_child.recv()  # READY
        except (EOFError, OSError):
            self._end_child()
            raise RuntimeError("the process that times training steps ended as it started") from None
        self._base_bytes = _memory_bytes(child.process.pid) or 0
        return child

    def _end_child(self) -> None:
        if self._child is not None:
            self._child.close()
            self._child = None

    def _too_large(self, config: TrainConfig, needed: int) -> CalibrationRefused:
        return CalibrationRefused(
            f"the network {describe_network(config)} with batches of {config.batch_size} needs about "
            f"{needed / 2**20:,.0f} MB to train, more than the {self.memory_bytes / 2**20:,.0f} MB this server "
            f"gives it ({CALIBRATION_MEMORY_VARIABLE}). Choose fewer or smaller layers, or smaller batches")


def _memory_bytes(pid: int) -> int | None:
    """The resident memory of process ``pid`` (Linux /proc); None where it cannot be read."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


# The calibrator every page of this server shares, its child process started with the first question.
server_calibrator = one_per_server(ChildCalibrator)


READY = "ready"  # the child's first message: TensorFlow is imported and warm


def serve_calibrations(questions: Connection, answers: Connection) -> None:
    """The child of ChildCalibrator: warm TensorFlow up and say READY, then a TrainConfig in, its Calibration
    (or the ValueError it raised) out, until the parent goes."""
    with _lock:
        _warm_up()
    answers.send(READY)
    while True:
        try:
            config = questions.recv()
        except EOFError:
            end_with_parent()
        try:
            answers.send(calibrate(config))
        except ValueError as error:
            answers.send(ValueError(str(error)))


def format_estimate(seconds: float) -> str:
    """'about 40 s here', 'about 4 min here', 'about 1.5 h here': rounded as a person would say it."""
    if seconds < 10:
        return f"about {max(1, round(seconds))} s here"
    if seconds < 90:
        return f"about {5 * round(seconds / 5)} s here"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} min here"
    return f"about {seconds / 3600:.1f} h here"


def _warm_up() -> None:
    """Import TensorFlow and run its first compiled function (core.training.loop.warm_up_tensorflow), once per
    process, timing it: a cold training worker pays the same before its first step (Calibration.startup_seconds)."""
    global _warmed
    if _warmed:
        return
    _warmed = True
    started = time.perf_counter()
    warm_up_tensorflow()
    _startup[0] = time.perf_counter() - started


def _measure(config: TrainConfig) -> Calibration:
    import tensorflow as tf

    rng = np.random.default_rng(0)
    digits = max(config.batch_size, PREDICT_DIGITS)
    images = rng.integers(0, 256, size=(digits, 28, 28), dtype=np.uint8)  # speed does not depend on the ink
    labels = rng.integers(0, 10, size=digits).astype(np.uint8)

    def batches(steps: int):
        return tf.constant(rng.integers(0, digits, size=(steps, config.batch_size), dtype=np.int32))

    started = time.perf_counter()
    model, run_steps = compile_training(config, images, labels, total_steps=1_000_000)  # augmented throughout
    build_seconds = time.perf_counter() - started

    first_chunk = batches(FIRST_CHUNK_STEPS)
    started = time.perf_counter()
    run_steps(first_chunk)[0].numpy()
    first_seconds = time.perf_counter() - started

    steps, warm_seconds = 1, 0.0
    while warm_seconds < WARM_SECONDS:  # chunks of 1, 2, 4, ... steps; the last, longest one counts
        steps *= 2
        chunk = batches(steps)
        started = time.perf_counter()
        run_steps(chunk)[0].numpy()
        warm_seconds = time.perf_counter() - started
    step_seconds = warm_seconds / steps

    started = time.perf_counter()
    evaluate_accuracy(model, images[:PREDICT_DIGITS], labels[:PREDICT_DIGITS])
    cold_predict = time.perf_counter() - started
    started = time.perf_counter()
    evaluate_accuracy(model, images[:PREDICT_DIGITS], labels[:PREDICT_DIGITS])
    warm_predict = time.perf_counter() - started
    return Calibration(
        build_seconds=build_seconds,
        compile_seconds=max(0.0, first_seconds - FIRST_CHUNK_STEPS * step_seconds),
        step_seconds=step_seconds,
        predict_compile_seconds=max(0.0, cold_predict - warm_predict),
        predict_seconds_per_digit=warm_predict / PREDICT_DIGITS,
    )
