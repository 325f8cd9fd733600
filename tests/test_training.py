"""core.training: the fast loop on tiny synthetic digits, and the background job the dashboard polls."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from core.evaluation import metrics
from core.evaluation.explain import first_layer_weights
from core.evaluation.metrics import evaluate_accuracy, train_accuracy_sample
from core.lecture import lecture_loss_floor
from core.model.config import TrainConfig, preset
from core.model.predict import predict_proba
from core.training.job import TrainingJob, train_and_save
from core.training.loop import MAX_CHUNK_STEPS, TrainingDiverged, train
from core.training.progress import Progress, RunState
from helpers.apptest import DEADLINE_SECONDS, wait_for
from helpers.digits import make_tiny_data

# A deep ReLU network at the highest allowed learning rate: its loss overflows within a few steps.
DIVERGING = dict(activation="relu", hidden_units=(128, 128, 128, 128), learning_rate=10.0, epochs=3)


def quick(**changes):
    """The lecture preset, shortened for tiny data."""
    return preset("lecture").replace(**{"epochs": 2, **changes})


def test_one_loss_per_batch_and_high_accuracy(tiny_data):
    result = train(quick(), tiny_data)
    steps_per_epoch = len(tiny_data.x_train) // 32
    assert result.steps == len(result.batch_losses) == 2 * steps_per_epoch
    assert all(math.isfinite(loss) for loss in result.batch_losses)
    assert np.mean(result.batch_losses[-3:]) < np.mean(result.batch_losses[:3])
    assert result.train_accuracy >= 0.95
    assert result.test_accuracy >= 0.9
    assert result.wall_seconds > 0 and result.samples_per_second > 0
    assert result.data_description == tiny_data.description
    assert not result.stopped


def test_epoch_history_without_validation(tiny_data):
    result = train(quick(epochs=3), tiny_data)
    assert [record.epoch for record in result.epoch_history] == [1, 2, 3]
    steps_per_epoch = result.steps // 3
    for record in result.epoch_history:
        epoch_losses = result.batch_losses[(record.epoch - 1) * steps_per_epoch: record.epoch * steps_per_epoch]
        assert record.train_loss == pytest.approx(np.mean(epoch_losses))
        assert 0 <= record.train_accuracy <= 1
        assert record.val_loss is None and record.val_accuracy is None


def test_validation_split_holds_out_digits_and_reports_them(tiny_data):
    result = train(quick(validation_split=0.2), tiny_data)
    assert result.steps == 2 * (240 // 32)  # 60 of the 300 digits are held out
    for record in result.epoch_history:
        assert record.val_loss is not None and record.val_loss > 0
        assert 0 <= record.val_accuracy <= 1
    assert result.epoch_history[-1].val_accuracy >= 0.8


def test_each_batch_also_has_the_lectures_own_loss_which_never_goes_below_its_floor(tiny_data):
    seen: list[Progress] = []
    train(preset("lecture").replace(epochs=3), tiny_data, on_progress=seen.append)
    progress = seen[-1]
    assert len(progress.lecture_losses) == len(progress.batch_losses) == progress.step
    floor = lecture_loss_floor()
    # Between log(1 + 9/e), every digit right and sure, and log(9 + e), sure of a wrong one (softmax twice).
    assert floor - 1e-5 <= min(progress.lecture_losses) <= max(progress.lecture_losses) <= math.log(9 + math.e) + 1e-5
    # The network learns (its cross-entropy falls by far); the lecture's loss follows only towards its floor.
    assert progress.batch_losses[-1] < 0.5 * progress.batch_losses[0]
    assert progress.lecture_losses[-1] < progress.lecture_losses[0] and progress.lecture_losses[-1] > floor


def test_on_progress_reports_every_chunk_in_order(tiny_data):
    seen: list[Progress] = []
    result = train(quick(), tiny_data, on_progress=seen.append)
    training = [progress for progress in seen if progress.state == RunState.TRAINING]
    steps = [progress.step for progress in training]
    assert steps == sorted(steps) and steps[-1] == result.steps
    assert all(len(progress.batch_losses) == progress.step for progress in training)
    assert training[-1].total_steps == result.steps and training[-1].fraction == 1.0
    assert training[-1].samples_per_second > 0 and training[-1].eta_seconds == pytest.approx(0.0)
    assert len(training[-1].epoch_history) == 2
    assert seen[-1].state == RunState.EVALUATING


def test_an_mlp_shows_its_first_layer_while_it_trains(tiny_data):
    seen: list[Progress] = []
    result = train(quick(epochs=3), tiny_data, on_progress=seen.append)
    training_snapshots = [progress for progress in seen if progress.state == RunState.TRAINING]
    pictures = [progress.first_layer_weights for progress in training_snapshots]
    assert all(picture is not None and picture.shape == (64, 28, 28) for picture in pictures)
    assert pictures[0].dtype == np.float32
    # Refreshed at each epoch end: the last snapshot shows the trained layer, the first one an earlier state.
    np.testing.assert_array_equal(pictures[-1], first_layer_weights(result.model))
    assert not np.array_equal(pictures[0], pictures[-1])
    epoch_ends = [progress for progress in training_snapshots if len(progress.epoch_history) == 1]
    assert epoch_ends and not np.array_equal(epoch_ends[0].first_layer_weights, pictures[-1])


def test_a_cnn_has_no_first_layer_picture(tiny_data):
    seen: list[Progress] = []
    config = TrainConfig(architecture="cnn", conv_filters=(4,), hidden_units=(8,), epochs=1)
    train(config, tiny_data, on_progress=seen.append)
    assert seen and all(progress.first_layer_weights is None for progress in seen)


def test_train_accuracy_is_measured_on_an_even_sample_of_the_training_digits(tiny_data, monkeypatch):
    full = train_accuracy_sample(60_000)
    assert len(full) == metrics.TRAIN_ACCURACY_DIGITS == len(np.unique(full))
    assert (full[0], full[-1]) == (0, 59_999) and np.ptp(np.diff(full)) <= 1
    np.testing.assert_array_equal(train_accuracy_sample(300), np.arange(300))  # fewer digits: all of them
    monkeypatch.setattr(metrics, "TRAIN_ACCURACY_DIGITS", 40)
    result = train(quick(), tiny_data)
    sample = train_accuracy_sample(len(tiny_data.x_train))
    assert len(sample) == 40
    assert result.train_accuracy == evaluate_accuracy(result.model, tiny_data.x_train[sample], tiny_data.y_train[sample])


def test_train_and_save_publishes_to_the_end_and_never_raises(tiny_data):
    seen: list[Progress] = []
    result = train_and_save(quick(), tiny_data, None, "lecture", publish=seen.append, should_stop=lambda: False)
    assert seen[-1].state == RunState.FINISHED and seen[-1].test_accuracy == result.test_accuracy
    failed: list[Progress] = []
    assert train_and_save(quick(batch_size=512), tiny_data, None, "lecture", publish=failed.append,
                          should_stop=lambda: False) is None
    assert failed[-1].state == RunState.FAILED and "batch_size 512" in failed[-1].message


def test_should_stop_ends_early_and_keeps_a_usable_model(tiny_data):
    config = quick(epochs=5)
    result = train(config, tiny_data, should_stop=lambda: True)
    assert result.stopped
    assert 0 < result.steps < 5 * (300 // 32)
    assert len(result.batch_losses) == result.steps
    assert result.epoch_history == []  # no epoch was completed
    probabilities = predict_proba(result.model, tiny_data.x_test[:4])
    assert probabilities.shape == (4, 10)
    assert 0 <= result.test_accuracy <= 1


def test_same_seed_same_run_other_seed_other_run(tiny_data):
    first = train(quick(), tiny_data)
    again = train(quick(), tiny_data)
    other = train(quick(seed=1), tiny_data)
    assert first.batch_losses == again.batch_losses
    assert first.test_accuracy == again.test_accuracy
    assert other.batch_losses != first.batch_losses


def test_a_diverging_run_stops_with_a_message(tiny_data):
    seen: list[Progress] = []
    with pytest.raises(TrainingDiverged) as caught:
        train(quick(**DIVERGING), tiny_data, on_progress=seen.append)
    message = str(caught.value)
    assert "NaN or infinite" in message
    assert "learning rate 10" in message and "lower" in message
    step = int(re.search(r"at step (\d+)", message).group(1))
    reported = max((progress.step for progress in seen), default=0)
    assert step > reported  # every loss handed out before the blow-up was finite
    assert step < 3 * (300 // 32)  # it stopped at once, not at the end of the run


def test_whole_number_learning_rate_trains(tiny_data):
    """A form or JSON gives 1, not 1.0; Keras' optimizers refuse an int."""
    result = train(quick(learning_rate=1, epochs=1), tiny_data)
    assert result.steps == 300 // 32


@pytest.mark.parametrize("changes", [
    dict(optimizer="momentum", lr_schedule="cosine", learning_rate=0.05),
    dict(optimizer="adam", lr_schedule="one-cycle", learning_rate=0.01, activation="relu", dropout=0.1),
], ids=["momentum-cosine", "adam-one-cycle"])
def test_other_optimizers_and_schedules_learn(tiny_data, changes):
    assert train(quick(epochs=3, **changes), tiny_data).test_accuracy >= 0.8


def test_batch_larger_than_the_data_is_a_value_error(tiny_data):
    with pytest.raises(ValueError, match="batch_size"):
        train(quick(batch_size=512), tiny_data)


def test_job_runs_to_the_end_and_publishes_the_result(tiny_data):
    job = TrainingJob(quick(), tiny_data).start()
    progress = wait_for(job)
    job.join(DEADLINE_SECONDS)  # the thread ends right after its last Progress
    assert progress.state == RunState.FINISHED and not progress.stopped
    assert job.result is not None and not job.running
    assert progress.step == job.result.steps == len(progress.batch_losses)
    assert progress.test_accuracy == job.result.test_accuracy
    assert progress.train_accuracy == job.result.train_accuracy
    assert progress.fraction == 1.0 and progress.eta_seconds == 0.0


def test_job_saves_its_model_itself_under_a_free_name(tiny_data, tmp_path):
    from core.model.store import ModelStore

    store = ModelStore(tmp_path / "store")
    first = TrainingJob(quick(), tiny_data, store=store, save_name="lecture").start()
    wait_for(first)
    second = TrainingJob(quick(seed=1), tiny_data, store=store, save_name="lecture").start()
    wait_for(second)
    assert (first.snapshot().saved_as, second.snapshot().saved_as) == ("lecture", "lecture-2")
    assert store.info("lecture-2").test_accuracy == second.snapshot().test_accuracy


def test_job_reports_a_failed_save_and_keeps_the_result(tiny_data, tmp_path):
    from core.model.store import ModelStore

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the models folder should be")
    job = TrainingJob(quick(), tiny_data, store=ModelStore(blocker), save_name="lecture").start()
    progress = wait_for(job)
    assert progress.state == RunState.FINISHED and progress.saved_as == ""
    assert progress.message.startswith("The model could not be saved") and job.result is not None


def test_job_stop_is_honoured_after_the_chunk_in_progress():
    data = make_tiny_data(train=2000, test=100)
    job = TrainingJob(quick(epochs=500), data).start()  # 31,000 steps: far more than the test lets it train
    try:
        seen = [wait_for(job, lambda progress: progress.step > 0, "the first chunk")]
        for _ in range(3):  # the next Progress snapshots, as a page reads them while the worker trains
            seen.append(wait_for(job, lambda progress: progress.step > seen[-1].step, "the next chunk"))
        job.stop()
        asked_at = job.snapshot().step  # read after stop(): the worker may have gone on since the last one
        progress = wait_for(job)
    finally:
        job.stop()
        job.join(DEADLINE_SECONDS)
    for snapshot in seen:
        assert len(snapshot.batch_losses) == snapshot.step  # each snapshot is consistent in itself
    assert progress.state == RunState.STOPPED and progress.stopped
    # The worker reads Stop after each chunk: at most the chunk it was in is trained after stop().
    assert asked_at <= progress.step <= asked_at + MAX_CHUNK_STEPS < progress.total_steps
    assert predict_proba(job.result.model, data.x_test[:3]).shape == (3, 10)


def test_a_failed_job_shows_its_message(tiny_data):
    job = TrainingJob(quick(batch_size=512), tiny_data).start()
    progress = wait_for(job)
    assert progress.state == RunState.FAILED
    assert "batch_size 512" in progress.message
    assert job.result is None


def test_a_diverging_job_fails_with_the_divergence_message(tiny_data):
    job = TrainingJob(quick(**DIVERGING), tiny_data).start()
    progress = wait_for(job)
    assert progress.state == RunState.FAILED
    assert "diverged" in progress.message and "learning rate" in progress.message


def test_job_refuses_an_invalid_config(tiny_data):
    config = quick()
    config.epochs = 0
    with pytest.raises(ValueError, match="epochs"):
        TrainingJob(config, tiny_data)
