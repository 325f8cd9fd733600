"""A run from start to saved model: ``train_and_save``, and ``TrainingJob``, which runs it on a thread.

``train_and_save`` is what every runner calls, whether a thread of this process (TrainingJob), a worker
process (core.training.scheduler) or an actor on a Ray cluster (core.training.ray_cluster): it trains,
measures the leaderboard's drawn-digit figure, saves the model under a free name and publishes each
Progress, the last one finished, stopped or failed.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Callable

from core.data.mnist import MnistData
from core.evaluation.metrics import drawn_accuracy
from core.model.config import TrainConfig
from core.model.store import StoreError
from core.training.loop import TrainingDiverged, TrainingResult, train
from core.training.progress import Progress, RunHandle, RunState


class TrainingJob(RunHandle):
    """Runs ``train`` on a background thread; a page polls ``snapshot()``.

    The worker never touches the UI: it only replaces one immutable Progress
    under a lock, and the page reads it whenever it likes. Given a ModelStore,
    the worker also saves the finished (or stopped) model under a free name
    based on ``save_name``, so the model is kept even if nobody is watching.
    """

    def __init__(self, config: TrainConfig, data: MnistData, store=None, save_name: str = "model"):
        super().__init__(config)
        self.data = data
        self.store = store
        self.save_name = save_name
        self.result: TrainingResult | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mnist-training", daemon=True)

    def start(self) -> "TrainingJob":
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the run to stop after the chunk in progress (well within 1 s)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        train_and_save(self.config, self.data, self.store, self.save_name, publish=self.publish,
                       should_stop=self._stop.is_set, on_result=self._keep)

    def _keep(self, result: TrainingResult) -> None:
        self.result = result


def train_and_save(
    config: TrainConfig,
    data: MnistData,
    store,
    save_name: str,
    publish: Callable[[Progress], None],
    should_stop: Callable[[], bool],
    on_result: Callable[[TrainingResult], None] | None = None,
    owner: str = "",
) -> TrainingResult | None:
    """``train``, then save the model in ``store`` (a ModelStore, or None) under a free name based on
    ``save_name``; what TrainingJob runs on its thread and core.training.scheduler in its worker processes.

    Never raises: every Progress goes to ``publish``, the last one "finished" or "stopped" with the
    accuracies and the saved name (or why saving failed), or "failed" with a message for the page.
    on_result : gets the TrainingResult before that last Progress is published, so whoever sees
        a finished Progress finds the model already there.
    owner : the student the saved model belongs to (core.model.store.ModelStore.save); "" for nobody.
    Returns the TrainingResult, or None when training failed.
    """
    last = Progress(epochs=config.epochs)

    def publish_and_keep(progress: Progress) -> None:
        nonlocal last
        last = progress
        publish(progress)

    try:
        result = train(config, data, on_progress=publish_and_keep, should_stop=should_stop)
    except (ValueError, TrainingDiverged) as error:
        publish(replace(last, state=RunState.FAILED, message=str(error)))
        return None
    except Exception as error:  # anything else still ends as a message, not a dead thread or worker
        publish(replace(last, state=RunState.FAILED, message=f"Training failed: {type(error).__name__}: {error}"))
        return None
    if on_result is not None:
        on_result(result)
    saved_as, message = _save(store, save_name, result, owner, data)
    publish(replace(
        last, state=RunState.STOPPED if result.stopped else "finished",
        train_accuracy=result.train_accuracy, test_accuracy=result.test_accuracy,
        elapsed_seconds=result.wall_seconds, eta_seconds=0.0, saved_as=saved_as, message=message,
    ))
    return result


def _save(store, save_name: str, result: TrainingResult, owner: str, data: MnistData) -> tuple[str, str]:
    """(saved name, "") or ("", why saving failed); nothing to do without a store.

    The model's accuracy on drawn digits (the leaderboard's second figure) is measured here, in the
    process that trained it, so the dashboard never loads a model to rank it: the drawings of ``data``'s
    test digits take seconds once per machine (core.drawing.synthetic), then one predict per model.
    """
    if store is None:
        return "", ""
    try:
        drawn = drawn_accuracy(result.model, data)
    except Exception:  # a test set this pipeline cannot draw must not cost the student the trained model
        drawn = None
    try:
        saved = store.save_new(save_name, result, owner=owner, drawn_accuracy=drawn)
    except StoreError as error:
        return "", f"{error}."
    return saved.name, ""
