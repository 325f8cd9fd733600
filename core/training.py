"""Training: a fast loop that keeps every batch's loss, and a background job for the dashboard.

``train`` runs the gradient steps in chunks inside one compiled TensorFlow
function (like Keras' ``steps_per_execution``), so Python is visited once per
chunk instead of once per batch, yet each batch's loss comes back: the
lecture's ``hist_loss``. Chunks are sized to last about 0.15 s, so progress
reaches the page several times a second and Stop is honoured well within 1 s.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Callable

import numpy as np

from core.data import MnistData
from core.models import TrainConfig, build_model
from core.predict import accuracy, predict_logits, softmax

CHUNK_SECONDS = 0.15  # target wall time of one compiled chunk of steps
MAX_CHUNK_STEPS = 256
# The training accuracy is measured on this many training digits, spread evenly over the set,
# not on all 60,000: for a CNN those cost 4-40 s of prediction (core/evaluate.py), more than a
# quick run's whole training, while 10,000 digits (as many as the test set) pin it to about 0.1 point.
TRAIN_ACCURACY_DIGITS = 10_000
# With augmentation, the last sixth of the steps sees the digits as they are: the network ends
# tuned to clean digits at a low learning rate, yet keeps what augmentation taught it. The cnn
# preset gained 0.06 point on the test set that way (99.61% -> 99.67%, seed 0), and those
# steps are 17% cheaper.
CLEAN_FINISH = 1 / 6
# An MLP's first-layer weights are copied into Progress at each epoch end and at least this often
# (not after every chunk): the Train page draws them live.
WEIGHTS_SECONDS = 1.0


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message suggests a lower learning rate."""


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


@dataclass
class TrainingResult:
    """A trained model and how it got there."""

    model: object  # keras.Model, (N, 28, 28) -> (N, 10) logits
    config: TrainConfig
    batch_losses: list[float]  # one per gradient step: the lecture's hist_loss
    epoch_history: list[EpochRecord]
    train_accuracy: float
    test_accuracy: float
    wall_seconds: float
    samples_per_second: float
    steps: int
    stopped: bool = False
    data_description: str = ""


def train(
    config: TrainConfig,
    data: MnistData,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainingResult:
    """Train a fresh model for ``config`` on ``data`` and measure it.

    on_progress : called from this thread after every chunk of steps with a Progress.
    should_stop : polled after every chunk; True ends training early, and the
        partly trained model is still evaluated and returned.
    The training accuracy is measured on TRAIN_ACCURACY_DIGITS of the training digits
    (all of them when there are fewer), the test accuracy on every test digit.
    Raises ValueError for a bad config and TrainingDiverged when the loss blows up.
    """
    import tensorflow as tf

    config.validate()
    started = time.perf_counter()
    on_progress = on_progress or (lambda progress: None)
    should_stop = should_stop or (lambda: False)

    steps_per_epoch, held_out = step_counts(config, len(data.x_train))
    train_images, train_labels, val_images, val_labels = _split_validation(data, held_out)
    total_steps = steps_per_epoch * config.epochs
    model, run_steps = compile_training(config, train_images, train_labels, total_steps)

    rng = np.random.default_rng(config.seed)
    batch_losses: list[float] = []
    history: list[EpochRecord] = []
    progress = Progress(state=RunState.TRAINING, total_steps=total_steps, epochs=config.epochs)
    chunk = 4
    trained_seconds = 0.0
    compile_steps, compile_seconds = 0, 0.0  # the first chunk also traces the function: keep it out of speed
    weights_copied = -math.inf  # when first_layer_weights was last refreshed
    stopped = False
    for epoch in range(1, config.epochs + 1):
        order = rng.permutation(len(train_images))[: steps_per_epoch * config.batch_size]
        batches = order.reshape(steps_per_epoch, config.batch_size).astype(np.int32)
        epoch_correct = 0
        done_in_epoch = 0
        while done_in_epoch < steps_per_epoch and not stopped:
            count = min(chunk, steps_per_epoch - done_in_epoch)
            chunk_start = time.perf_counter()
            losses, correct = run_steps(tf.constant(batches[done_in_epoch: done_in_epoch + count]))
            losses = losses.numpy().tolist()
            chunk_seconds = time.perf_counter() - chunk_start
            trained_seconds += chunk_seconds
            first_bad = next((i for i, loss in enumerate(losses) if not math.isfinite(loss)), None)
            if first_bad is not None:
                raise TrainingDiverged(_divergence_message(config, len(batch_losses) + first_bad + 1, epoch))
            batch_losses.extend(losses)
            epoch_correct += int(correct)
            done_in_epoch += count
            if not compile_steps:
                compile_steps, compile_seconds = count, chunk_seconds
            else:
                chunk = max(1, min(MAX_CHUNK_STEPS, round(CHUNK_SECONDS * count / max(chunk_seconds, 1e-6))))
            warm_steps = len(batch_losses) - compile_steps
            speed = (warm_steps if warm_steps else len(batch_losses)) * config.batch_size / max(
                trained_seconds - compile_seconds if warm_steps else trained_seconds, 1e-9)
            progress = replace(
                progress, step=len(batch_losses), epoch=epoch, batch_losses=tuple(batch_losses),
                elapsed_seconds=time.perf_counter() - started, samples_per_second=speed,
                eta_seconds=(total_steps - len(batch_losses)) * config.batch_size / speed,
            )
            if time.perf_counter() - weights_copied >= WEIGHTS_SECONDS or done_in_epoch == steps_per_epoch:
                progress = replace(progress, first_layer_weights=_first_layer_weights(config, model))
                weights_copied = time.perf_counter()
            on_progress(progress)
            stopped = should_stop()
        if done_in_epoch == steps_per_epoch:
            history.append(_epoch_record(
                model, epoch, batch_losses[-steps_per_epoch:], epoch_correct / len(batches.flat),
                val_images, val_labels,
            ))
            progress = replace(progress, epoch_history=tuple(history))
            on_progress(progress)
        if stopped:
            break

    on_progress(replace(progress, state=RunState.EVALUATING, stopped=stopped))
    measured = train_accuracy_sample(len(train_images))
    train_accuracy = evaluate_accuracy(model, train_images[measured], train_labels[measured])
    test_accuracy = evaluate_accuracy(model, data.x_test, data.y_test)
    samples = len(batch_losses) * config.batch_size
    return TrainingResult(
        model=model, config=config, batch_losses=batch_losses, epoch_history=history,
        train_accuracy=train_accuracy, test_accuracy=test_accuracy,
        wall_seconds=time.perf_counter() - started,
        samples_per_second=samples / trained_seconds if trained_seconds else 0.0,
        steps=len(batch_losses), stopped=stopped, data_description=data.description,
    )


def evaluate_accuracy(model, images: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of (N, 28, 28) uint8 digits whose highest logit is the label."""
    return accuracy(predict_logits(model, images), labels)


def step_counts(config: TrainConfig, train_digits: int) -> tuple[int, int]:
    """(gradient steps per epoch, digits held out for validation) for ``train_digits`` training digits.

    Raises ValueError when not even one batch of ``config.batch_size`` digits is left to train on.
    """
    held_out = int(train_digits * config.validation_split)  # as Keras' validation_split rounds
    steps_per_epoch = (train_digits - held_out) // config.batch_size
    if steps_per_epoch == 0:
        raise ValueError(
            f"batch_size {config.batch_size} is larger than the {train_digits - held_out} training digits; lower it"
        )
    return steps_per_epoch, held_out


def train_accuracy_sample(train_digits: int) -> np.ndarray:
    """Indices of the training digits the training accuracy is measured on: TRAIN_ACCURACY_DIGITS
    of them, evenly spaced, so a file sorted by label still gives every digit its share."""
    return np.linspace(0, train_digits - 1, min(train_digits, TRAIN_ACCURACY_DIGITS)).astype(np.int64)


def compile_training(config: TrainConfig, train_images: np.ndarray, train_labels: np.ndarray, total_steps: int):
    """A fresh model for ``config`` and the compiled function that trains it, as ``train`` uses them.

    train_images : (N, 28, 28) uint8; train_labels : (N,) digits.
    Returns (model, run_steps): ``run_steps`` takes (K, batch_size) int32 indices into the
    images, makes K gradient steps and returns their (K,) losses and the count of right answers.
    Its first call traces and compiles it (about a second or two); core.estimate times both.
    """
    import tensorflow as tf

    model = build_model(config)
    optimizer = _make_optimizer(config, total_steps)
    images = tf.constant(train_images)  # uint8 (N, 28, 28): a quarter of the memory of floats
    labels = tf.constant(np.asarray(train_labels).astype(np.int32))
    augment = _make_augmenter(config) if config.augment else None
    augmented_steps = total_steps - round(CLEAN_FINISH * total_steps)
    return model, _compile_steps(model, optimizer, images, labels, augment, augmented_steps)


class RunHandle:
    """A run's latest Progress, shared by the thread that trains (or relays) it and every reader.

    The writer replaces the whole Progress under a lock (``_publish``), never changes one; ``snapshot()``
    reads it from any thread, as a page does on each redraw, and ``wait()`` blocks until a wanted one
    arrives, for scripts and tests that would otherwise sleep and poll. TrainingJob and
    core.scheduler.ScheduledJob are handles of this kind.
    """

    def __init__(self, epochs: int):
        self._lock = threading.Lock()
        self._published = threading.Condition(self._lock)  # notified on every new Progress
        self._progress = Progress(epochs=epochs)

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

    def _publish(self, progress: Progress) -> None:
        with self._published:
            self._progress = progress
            self._published.notify_all()


class TrainingJob(RunHandle):
    """Runs ``train`` on a background thread; a page polls ``snapshot()``.

    The worker never touches the UI: it only replaces one immutable Progress
    under a lock, and the page reads it whenever it likes. Given a ModelStore,
    the worker also saves the finished (or stopped) model under a free name
    based on ``save_name``, so the model is kept even if nobody is watching.
    """

    def __init__(self, config: TrainConfig, data: MnistData, store=None, save_name: str = "model"):
        config.validate()
        super().__init__(config.epochs)
        self.config = config
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
        train_and_save(self.config, self.data, self.store, self.save_name, publish=self._publish,
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
    ``save_name``; what TrainingJob runs on its thread and core.scheduler in its worker processes.

    Never raises: every Progress goes to ``publish``, the last one "finished" or "stopped" with the
    accuracies and the saved name (or why saving failed), or "failed" with a message for the page.
    on_result : gets the TrainingResult before that last Progress is published, so whoever sees
        a finished Progress finds the model already there.
    owner : the student the saved model belongs to (core.store.ModelStore.save); "" for nobody.
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
    test digits take seconds once per machine (core.drawn_digits), then one predict per model.
    """
    from core.drawn_digits import drawn_accuracy
    from core.store import StoreError

    if store is None:
        return "", ""
    try:
        drawn = drawn_accuracy(result.model, data)
    except Exception:  # a test set this pipeline cannot draw must not cost the student the trained model
        drawn = None
    try:
        saved = store.save_under_free_name(save_name, lambda name: store.save(
            name, result, overwrite=False, owner=owner, drawn_accuracy=drawn))
    except StoreError as error:
        return "", f"{error}."
    return saved.name, ""


def _split_validation(data: MnistData, held_out: int):
    """Hold out the last ``held_out`` training digits, as Keras' validation_split does."""
    cut = len(data.x_train) - held_out
    return data.x_train[:cut], data.y_train[:cut], data.x_train[cut:], data.y_train[cut:]


def _make_optimizer(config: TrainConfig, total_steps: int):
    import keras

    rate = float(config.learning_rate)  # Keras rejects an int such as 1 from a form or JSON
    if config.lr_schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=total_steps)
    elif config.lr_schedule == "one-cycle":
        # Warm up from lr/25 to lr over the first 30% of steps, then cosine down to ~0.
        warmup = max(1, int(0.3 * total_steps))
        rate = keras.optimizers.schedules.CosineDecay(
            rate / 25, decay_steps=max(1, total_steps - warmup),
            warmup_target=rate, warmup_steps=warmup,
        )
    if config.optimizer == "adam":
        return keras.optimizers.Adam(rate)
    return keras.optimizers.SGD(rate, momentum=0.9 if config.optimizer == "momentum" else 0.0)


def _make_augmenter(config: TrainConfig):
    from core.augment import make_augmenter

    return make_augmenter(config.seed)


def _compile_steps(model, optimizer, images, labels, augment, augmented_steps: int):
    """One tf.function that takes (K, batch) indices and makes K gradient steps.

    ``augment`` (or None) changes the digits of the first ``augmented_steps`` steps of the run,
    counted by the optimizer. Returns the K batch losses and the number of right answers among them.
    """
    import tensorflow as tf

    variables = model.trainable_variables
    optimizer.build(variables)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
    def run_steps(batch_indices):
        count = tf.shape(batch_indices)[0]
        losses = tf.TensorArray(tf.float32, size=count)
        correct = tf.constant(0, tf.int64)
        for i in tf.range(count):
            x = tf.cast(tf.gather(images, batch_indices[i]), tf.float32) / 255.0
            y = tf.gather(labels, batch_indices[i])
            if augment is not None:
                x = tf.cond(optimizer.iterations < augmented_steps, lambda: augment(x), lambda: x)
            with tf.GradientTape() as tape:
                logits = model(x, training=True)
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
            optimizer.apply(tape.gradient(loss, variables), variables)
            losses = losses.write(i, loss)
            correct += tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, 1, output_type=tf.int32), y), tf.int64))
        return losses.stack(), correct

    return run_steps


def _first_layer_weights(config: TrainConfig, model) -> np.ndarray | None:
    """(units, 28, 28) float32 for an MLP (core.explain.first_layer_weights); None for a CNN."""
    from core.explain import first_layer_weights

    return first_layer_weights(model) if config.architecture == "mlp" else None


def _epoch_record(model, epoch, losses, train_accuracy, val_images, val_labels) -> EpochRecord:
    record = EpochRecord(epoch=epoch, train_loss=float(np.mean(losses)), train_accuracy=float(train_accuracy))
    if len(val_images) == 0:
        return record
    logits = predict_logits(model, val_images)
    probabilities = softmax(logits)[np.arange(len(val_labels)), val_labels]
    val_loss = float(-np.mean(np.log(np.maximum(probabilities, 1e-12))))
    val_accuracy = accuracy(logits, val_labels)
    return replace(record, val_loss=val_loss, val_accuracy=val_accuracy)


def _divergence_message(config: TrainConfig, step: int, epoch: int) -> str:
    return (
        f"Training diverged: the loss became NaN or infinite at step {step} (epoch {epoch}). "
        f"The learning rate {config.learning_rate:g} is too high for this network; "
        f"try {config.learning_rate / 10:g} or lower."
    )
