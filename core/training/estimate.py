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

import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

import numpy as np

from core.evaluation.metrics import evaluate_accuracy, train_accuracy_sample
from core.model.config import TrainConfig
from core.training.child_process import Child, end_with_parent, start_child
from core.training.loop import compile_training, step_counts

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


def speed_key(config: TrainConfig) -> tuple:
    """The fields of ``config`` that change how fast it trains; equal keys share a calibration.

    A page can cache its estimate by this key: learning rate, schedule, seed, epochs and
    validation split change the estimate's arithmetic, not the calibration.
    """
    return (config.architecture, config.hidden_units, config.conv_filters if config.architecture == "cnn" else (),
            config.activation, config.dropout > 0, config.batch_norm, config.optimizer, config.batch_size,
            config.augment)


_calibrations: dict[tuple, Calibration] = {}
_lock = threading.Lock()  # one calibration at a time: two at once would slow each other down


def calibrate(config: TrainConfig) -> Calibration:
    """The Calibration of ``config``'s network shape: measured on first use, then kept."""
    config.validate()
    key = speed_key(config)
    with _lock:
        if not _calibrations:
            _warm_up()
        if key not in _calibrations:
            _calibrations[key] = _measure(config)
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


class ChildCalibrator:
    """Calibrations measured in one long-lived child process, kept per network shape.

    A calibration compiles TensorFlow functions and runs them on every core for a few seconds. In the
    dashboard's server that held the interpreter every other session waits for: in a 10-student class
    (bench/classroom.py), the first Train page's calibration took 5.3 s of the server's CPU, more than all
    the drawings' answers together. The child (core.training.child_process) runs at a lower priority, keeps
    TensorFlow warm between shapes, and ends when its parent does.
    """

    def __init__(self):
        self._lock = threading.Lock()  # one question at a time on the pipe
        self._child: Child | None = None
        self._kept: dict[tuple, Calibration] = {}
        self._pending: set[tuple] = set()  # shapes being timed by calibrate_later
        self._failed: dict[tuple, str] = {}  # why the last calibrate_later of a shape got no answer

    def calibrate(self, config: TrainConfig) -> Calibration:
        """The Calibration of ``config``'s network shape, measured in the child on first use, then kept.

        Raises ValueError for a bad config, RuntimeError when the child cannot answer (started again once).
        """
        config.validate()
        key = speed_key(config)
        kept = self._kept.get(key)  # a shape timed before answers at once, even while another is being timed
        if kept is not None:
            return kept
        with self._lock:
            if key not in self._kept:
                self._kept[key] = self._ask(config)
            return self._kept[key]

    def calibrate_later(self, config: TrainConfig) -> Calibration | None:
        """The kept Calibration of ``config``'s shape, or None after starting to time it on a thread of its own
        (one per shape): a page that must not wait asks again later. Raises ValueError for a bad config, and
        RuntimeError with the reason when the last try for this shape got no answer (the next call tries again).

        On a busy 2-core machine the first calibration took 28 s (the child's TensorFlow start-up at low
        priority), and every student who opened the Train page meanwhile waited for it (bench/classroom.py).
        """
        config.validate()
        key = speed_key(config)
        kept = self._kept.get(key)
        if kept is not None:
            return kept
        with _pending_lock:
            if key in self._failed:
                raise RuntimeError(self._failed.pop(key))
            if key not in self._pending:
                self._pending.add(key)
                threading.Thread(target=self._calibrate_pending, args=(config, key), daemon=True,
                                 name="mnist-calibrate-later").start()
        return None

    def _calibrate_pending(self, config: TrainConfig, key: tuple) -> None:
        try:
            self.calibrate(config)
        except (RuntimeError, ValueError) as error:
            with _pending_lock:
                self._failed[key] = str(error)
        finally:
            with _pending_lock:
                self._pending.discard(key)

    def pid(self) -> int | None:
        """The child's process id; None before the first question."""
        return self._child.process.pid if self._child is not None else None

    def _ask(self, config: TrainConfig) -> Calibration:
        for _ in range(2):  # a child that died since the last question (killed, out of memory) is started again
            if self._child is None or not self._child.alive:
                if self._child is not None:
                    self._child.close()
                self._child = start_child(CALIBRATOR)
            try:
                self._child.to_child.send(config)
                answer = self._child.from_child.recv()
            except (EOFError, OSError):  # the pipe broke: the child is gone
                answer = None
            if isinstance(answer, ValueError):
                raise answer
            if isinstance(answer, Calibration):
                return answer
            self._child.close()
            self._child = None
        raise RuntimeError("the process that times training steps ended before it answered")


_pending_lock = threading.Lock()  # guards every ChildCalibrator's _pending and _failed
_server_calibrator: ChildCalibrator | None = None
_server_calibrator_lock = threading.Lock()


def server_calibrator() -> ChildCalibrator:
    """The process-wide ChildCalibrator the dashboard's pages share."""
    global _server_calibrator
    with _server_calibrator_lock:
        if _server_calibrator is None:
            _server_calibrator = ChildCalibrator()
        return _server_calibrator


def serve_calibrations(questions: Connection, answers: Connection) -> None:
    """The child of ChildCalibrator: a TrainConfig in, its Calibration (or the ValueError it raised) out,
    until the parent goes."""
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
    """One tiny compiled step and one prediction. TensorFlow's first compiled function in a
    process costs about 2 s more than any later one (its runtime starts up): that is not the
    calibrated network's compile time, and a run trained after the estimate does not pay it again."""
    import tensorflow as tf

    images, labels = np.zeros((1, 28, 28), np.uint8), np.zeros(1, np.uint8)
    model, run_steps = compile_training(TrainConfig(hidden_units=(1,), batch_size=1), images, labels, total_steps=1)
    run_steps(tf.constant([[0]], tf.int32))
    evaluate_accuracy(model, images, labels)


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
