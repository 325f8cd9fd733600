"""Training: a fast loop that keeps every batch's loss, and a background job for the dashboard.

``train`` runs the gradient steps in chunks inside one compiled TensorFlow
function (like Keras' ``steps_per_execution``), so Python is visited once per
chunk instead of once per batch, yet each batch's loss comes back: the
lecture's ``hist_loss``. Chunks are sized to last about 0.15 s, so progress
reaches the page several times a second and Stop is honoured well within 1 s.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from core.data.mnist import MnistData
from core.evaluation.explain import first_layer_weights
from core.evaluation.metrics import accuracy, evaluate_accuracy, train_accuracy_sample
from core.model.config import TrainConfig
from core.model.network import build_model
from core.model.predict import predict_logits, softmax
from core.tensorflow_import import import_tensorflow
from core.training.augment import make_augmenter
from core.training.progress import EpochRecord, Progress, RunState

CHUNK_SECONDS = 0.15  # target wall time of one compiled chunk of steps
MAX_CHUNK_STEPS = 256
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
    lecture_losses: list[float] = []  # the same batches' loss as the lecture wrote it (see _compile_steps)
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
            losses, correct, lecture = run_steps(tf.constant(batches[done_in_epoch: done_in_epoch + count]))
            losses = losses.numpy().tolist()
            chunk_seconds = time.perf_counter() - chunk_start
            trained_seconds += chunk_seconds
            first_bad = next((i for i, loss in enumerate(losses) if not math.isfinite(loss)), None)
            if first_bad is not None:
                raise TrainingDiverged(_divergence_message(config, len(batch_losses) + first_bad + 1, epoch))
            batch_losses.extend(losses)
            lecture_losses.extend(lecture.numpy().tolist())
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
                lecture_losses=tuple(lecture_losses),
                elapsed_seconds=time.perf_counter() - started, samples_per_second=speed,
                # Unknown until a chunk without the compiling has been timed: from the first chunk alone, Quick CNN's
                # time left read 552 s, then 62 s.
                eta_seconds=(total_steps - len(batch_losses)) * config.batch_size / speed if warm_steps else None,
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


def warm_up_tensorflow() -> None:
    """Import TensorFlow and run one tiny compiled step and one prediction. TensorFlow's first compiled function
    in a process costs about 2 s more than any later one (its runtime starts up): a process that will train
    or calibrate pays it here, once, before anyone waits for it."""
    tf = import_tensorflow()

    images, labels = np.zeros((1, 28, 28), np.uint8), np.zeros(1, np.uint8)
    model, run_steps = compile_training(TrainConfig(hidden_units=(1,), batch_size=1), images, labels, total_steps=1)
    run_steps(tf.constant([[0]], tf.int32))
    evaluate_accuracy(model, images, labels)


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


def compile_training(config: TrainConfig, train_images: np.ndarray, train_labels: np.ndarray, total_steps: int):
    """A fresh model for ``config`` and the compiled function that trains it, as ``train`` uses them.

    train_images : (N, 28, 28) uint8; train_labels : (N,) digits.
    Returns (model, run_steps): ``run_steps`` takes (K, batch_size) int32 indices into the
    images, makes K gradient steps and returns their (K,) losses, the count of right answers and the
    (K,) losses the lecture's formula gives for the same batches (softmax twice, see core.lecture).
    Its first call traces and compiles it (about a second or two); core.training.estimate times both.
    """
    import tensorflow as tf

    model = build_model(config)
    optimizer = _make_optimizer(config, total_steps)
    images = tf.constant(train_images)  # uint8 (N, 28, 28): a quarter of the memory of floats
    labels = tf.constant(np.asarray(train_labels).astype(np.int32))
    augment = _make_augmenter(config) if config.augment else None
    augmented_steps = total_steps - round(CLEAN_FINISH * total_steps)
    return model, _compile_steps(model, optimizer, images, labels, augment, augmented_steps)


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
    return make_augmenter(config.seed)


def _compile_steps(model, optimizer, images, labels, augment, augmented_steps: int):
    """One tf.function that takes (K, batch) indices and makes K gradient steps.

    ``augment`` (or None) changes the digits of the first ``augmented_steps`` steps of the run,
    counted by the optimizer. Returns the K batch losses, the number of right answers among them, and the
    K losses as the lecture computed them: the cross-entropy of softmax(logits) taken as logits, which never
    goes below log(1 + 9/e) = 1.46. That one is only watched (the Lecture's step 13 plots it), never trained
    on; it costs the lecture's run about 1% of its speed.
    """
    import tensorflow as tf

    variables = model.trainable_variables
    optimizer.build(variables)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
    def run_steps(batch_indices):
        count = tf.shape(batch_indices)[0]
        losses = tf.TensorArray(tf.float32, size=count)
        lecture_losses = tf.TensorArray(tf.float32, size=count)
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
            lecture_losses = lecture_losses.write(i, tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(y, tf.nn.softmax(logits))))  # softmax twice
            correct += tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, 1, output_type=tf.int32), y), tf.int64))
        return losses.stack(), correct, lecture_losses.stack()

    return run_steps


def _first_layer_weights(config: TrainConfig, model) -> np.ndarray | None:
    """(units, 28, 28) float32 for an MLP (core.evaluation.explain.first_layer_weights); None for a CNN."""
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
