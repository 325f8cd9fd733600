"""A run's progress as the pages see it: its state, every batch's loss so far, its accuracies.

``Progress`` is an immutable snapshot; ``RunHandle`` holds the latest one behind a lock, replaced whole
by whoever trains (or relays) the run and read by any thread. TrainingJob (core.training.job) and
ScheduledJob (core.training.scheduler) are handles of this kind.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Callable

import numpy as np

from core.model.config import TrainConfig


@dataclass(frozen=True)
class EpochRecord:
    """Averages over one epoch; validation figures are None without a validation split."""

    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float | None = None
    val_accuracy: float | None = None


class RunState(StrEnum):
    """Where a run is: starting (queued or building), training, evaluating (measuring accuracy), then one of
    the three ends: finished, stopped (Stop was pressed; the model so far is kept) or failed (see message)."""

    STARTING = "starting"
    TRAINING = "training"
    EVALUATING = "evaluating"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"


ENDED = (RunState.FINISHED, RunState.STOPPED, RunState.FAILED)


@dataclass(frozen=True)
class Progress:
    """A snapshot of a run, safe to hand to another thread (nothing in it changes)."""

    state: RunState = RunState.STARTING
    step: int = 0
    total_steps: int = 0
    epoch: int = 0  # 1-based epoch being trained
    epochs: int = 0
    batch_losses: tuple[float, ...] = ()
    # The same batches' loss as the lecture wrote it (softmax twice, core.lecture.lecture_loss): watched, not trained.
    lecture_losses: tuple[float, ...] = ()
    epoch_history: tuple[EpochRecord, ...] = ()
    elapsed_seconds: float = 0.0
    samples_per_second: float = 0.0
    eta_seconds: float | None = None
    stopped: bool = False  # Stop was pressed; the model trained so far is kept
    train_accuracy: float | None = None
    test_accuracy: float | None = None
    message: str = ""
    saved_as: str = ""  # the store name of the finished model, when the job saves it
    # An MLP's first dense layer as one 28x28 picture per hidden unit, (units, 28, 28) float32,
    # refreshed every WEIGHTS_SECONDS and at each epoch end; None for a CNN and before the first chunk.
    first_layer_weights: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def done(self) -> bool:
        return self.state in ENDED

    @property
    def failed(self) -> bool:
        return self.state == RunState.FAILED

    @property
    def fraction(self) -> float:
        return self.step / self.total_steps if self.total_steps else 0.0


class RunHandle:
    """A run's latest Progress, shared by the thread that trains (or relays) it and every reader.

    The writer replaces the whole Progress under a lock (``publish``), never changes one; ``snapshot()``
    reads it from any thread, as a page does on each redraw, and ``wait()`` blocks until a wanted one
    arrives, for scripts and tests that would otherwise sleep and poll. TrainingJob and
    core.training.scheduler.ScheduledJob are handles of this kind.
    """

    def __init__(self, config: TrainConfig):
        """A handle for a run of ``config`` (validated here: ValueError names a bad field)."""
        config.validate()
        self.config = config
        self._lock = threading.Lock()
        self._published = threading.Condition(self._lock)  # notified on every new Progress
        self._progress = Progress(epochs=config.epochs)

    def snapshot(self) -> Progress:
        with self._lock:
            return self._progress

    def wait(self, until: Callable[[Progress], bool] = lambda progress: progress.done,
             timeout: float | None = None) -> Progress:
        """Block until ``until(progress)`` holds (by default: the run is done) or ``timeout`` seconds pass.

        Returns the latest Progress either way; the caller checks it, as after ``threading.Event.wait``.
        ``until`` runs with the lock held, on each new Progress: it looks only at the Progress it is given.
        """
        with self._published:
            self._published.wait_for(lambda: until(self._progress), timeout)
            return self._progress

    def publish(self, progress: Progress) -> None:
        """Make ``progress`` the run's latest and wake every ``wait``: for whoever trains or relays the run."""
        with self._published:
            self._progress = progress
            self._published.notify_all()
