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
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from core.data import MnistData
from core.models import TrainConfig, build_model
from core.predict import predict_logits, softmax

CHUNK_SECONDS = 0.15  # target wall time of one compiled chunk of steps
MAX_CHUNK_STEPS = 256


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


@dataclass(frozen=True)
class Progress:
    """A snapshot of a run, safe to hand to another thread (nothing in it changes)."""

    state: str = "starting"  # starting, training, evaluating, finished, stopped, failed
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

    @property
    def done(self) -> bool:
        return self.state in ("finished", "stopped", "failed")

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
    Raises ValueError for a bad config and TrainingDiverged when the loss blows up.
    """
    import tensorflow as tf

    config.validate()
    started = time.perf_counter()
    on_progress = on_progress or (lambda progress: None)
    should_stop = should_stop or (lambda: False)

    train_images, train_labels, val_images, val_labels = _split_validation(data, config.validation_split)
    steps_per_epoch = len(train_images) // config.batch_size
    if steps_per_epoch == 0:
        raise ValueError(
            f"batch_size {config.batch_size} is larger than the {len(train_images)} training digits; lower it"
        )
    total_steps = steps_per_epoch * config.epochs
    model = build_model(config)
    optimizer = _make_optimizer(config, total_steps)
    images = tf.constant(train_images)  # uint8 (N, 28, 28): a quarter of the memory of floats
    labels = tf.constant(train_labels.astype(np.int32))
    augment = _make_augmenter(config) if config.augment else None
    run_steps = _compile_steps(model, optimizer, images, labels, augment)

    rng = np.random.default_rng(config.seed)
    batch_losses: list[float] = []
    history: list[EpochRecord] = []
    progress = Progress(state="training", total_steps=total_steps, epochs=config.epochs)
    chunk = 4
    trained_seconds = 0.0
    compile_steps, compile_seconds = 0, 0.0  # the first chunk also traces the function: keep it out of speed
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

    on_progress(replace(progress, state="evaluating", stopped=stopped))
    train_accuracy = evaluate_accuracy(model, train_images, train_labels)
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
    return float(np.mean(predict_logits(model, images).argmax(axis=1) == labels))


class TrainingJob:
    """Runs ``train`` on a background thread; a page polls ``snapshot()``.

    The worker never touches the UI: it only replaces one immutable Progress
    under a lock, and the page reads it whenever it likes. Given a ModelStore,
    the worker also saves the finished (or stopped) model under a free name
    based on ``save_name``, so the model is kept even if nobody is watching.
    """

    def __init__(self, config: TrainConfig, data: MnistData, store=None, save_name: str = "model"):
        config.validate()
        self.config = config
        self.data = data
        self.store = store
        self.save_name = save_name
        self.result: TrainingResult | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._progress = Progress(epochs=config.epochs)
        self._thread = threading.Thread(target=self._run, name="mnist-training", daemon=True)

    def start(self) -> "TrainingJob":
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the run to stop after the chunk in progress (well within 1 s)."""
        self._stop.set()

    def snapshot(self) -> Progress:
        with self._lock:
            return self._progress

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _publish(self, progress: Progress) -> None:
        with self._lock:
            self._progress = progress

    def _run(self) -> None:
        try:
            result = train(self.config, self.data, on_progress=self._publish, should_stop=self._stop.is_set)
        except (ValueError, TrainingDiverged) as error:
            self._publish(replace(self.snapshot(), state="failed", message=str(error)))
            return
        except Exception as error:  # anything else still ends as a message, not a dead thread
            self._publish(replace(self.snapshot(), state="failed",
                                  message=f"Training failed: {type(error).__name__}: {error}"))
            return
        self.result = result
        saved_as, message = self._save(result)
        self._publish(replace(
            self.snapshot(), state="stopped" if result.stopped else "finished",
            train_accuracy=result.train_accuracy, test_accuracy=result.test_accuracy,
            elapsed_seconds=result.wall_seconds, eta_seconds=0.0, saved_as=saved_as, message=message,
        ))

    def _save(self, result: TrainingResult) -> tuple[str, str]:
        """(saved name, "") or ("", why saving failed); nothing to do without a store."""
        from core.store import StoreError

        if self.store is None:
            return "", ""
        problem = None
        for _ in range(3):  # another session may take the same free name between the two calls
            try:
                return self.store.save(self.store.unique_name(self.save_name), result, overwrite=False).name, ""
            except (StoreError, OSError) as error:
                problem = error
        return "", f"The model could not be saved: {problem}. Check that {self.store.folder} is writable."


def _split_validation(data: MnistData, fraction: float):
    """Hold out the last ``fraction`` of the training digits, as Keras' validation_split does."""
    held_out = int(len(data.x_train) * fraction)
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


def _compile_steps(model, optimizer, images, labels, augment):
    """One tf.function that takes (K, batch) indices and makes K gradient steps.

    Returns the K batch losses and the number of right answers among them.
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
                x = augment(x)
            with tf.GradientTape() as tape:
                logits = model(x, training=True)
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
            optimizer.apply(tape.gradient(loss, variables), variables)
            losses = losses.write(i, loss)
            correct += tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, 1, output_type=tf.int32), y), tf.int64))
        return losses.stack(), correct

    return run_steps


def _epoch_record(model, epoch, losses, accuracy, val_images, val_labels) -> EpochRecord:
    record = EpochRecord(epoch=epoch, train_loss=float(np.mean(losses)), train_accuracy=float(accuracy))
    if len(val_images) == 0:
        return record
    logits = predict_logits(model, val_images)
    probabilities = softmax(logits)[np.arange(len(val_labels)), val_labels]
    val_loss = float(-np.mean(np.log(np.maximum(probabilities, 1e-12))))
    val_accuracy = float(np.mean(logits.argmax(axis=1) == val_labels))
    return replace(record, val_loss=val_loss, val_accuracy=val_accuracy)


def _divergence_message(config: TrainConfig, step: int, epoch: int) -> str:
    return (
        f"Training diverged: the loss became NaN or infinite at step {step} (epoch {epoch}). "
        f"The learning rate {config.learning_rate:g} is too high for this network; "
        f"try {config.learning_rate / 10:g} or lower."
    )
