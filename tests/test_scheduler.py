"""core.training.scheduler: runs trained in real spawned worker processes on the tiny digits, queued FIFO.

One scheduler with two workers serves the whole module, so TensorFlow is imported by two workers
(and once more by the one that replaces a killed worker) rather than once per test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from core.classroom.class_set import ClassDigits
from core.model.config import describe, preset
from core.model.store import ModelStore
from core.training.child_process import CHILD_NICENESS, at_low_priority
from core.training.progress import RunState
from core.training.scheduler import (
    MAX_TRAINING_VARIABLE,
    SILENCE_VARIABLE,
    STOPPED_IN_QUEUE,
    OneRunPerStudent,
    ScheduledJob,
    TrainingScheduler,
    max_training_runs,
)
from helpers.apptest import DEADLINE_SECONDS, wait_for
from helpers.digits import make_digits, make_tiny_data
from helpers.priority import thread_priorities

SHORT = preset("lecture").replace(epochs=2)  # 18 steps on the tiny digits
# 1.5 million steps on 3,000 digits, about 10 minutes at the 2,500 steps/s measured on a busy
# 2-core Intel Xeon (Sapphire Rapids): a run that trains until the test stops it.
LONG = preset("lecture").replace(epochs=500, batch_size=1)
LONG_DATA = make_tiny_data(train=3000)


def training(progress) -> bool:
    """The run is on a worker and has made steps beyond its first, compiling chunk (so it has a time left)."""
    return progress.step > 0 and progress.eta_seconds is not None and not progress.done


@pytest.fixture(scope="module")
def scheduler():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(MAX_TRAINING_VARIABLE, "2")
        shared = TrainingScheduler()
    yield shared
    shared.shutdown()


@pytest.fixture
def start(scheduler, private_models_dir):
    """start(config, data, save_name) queues a run; at the end every run of the test is stopped and awaited,
    so the next test finds both workers idle."""
    started: list[ScheduledJob] = []

    def start_run(config, data=None, save_name: str = "run", store: ModelStore | None = None,
                  class_digits=None, owner: str = "", student: str | None = None) -> ScheduledJob:
        job = ScheduledJob(config, data, store or ModelStore(), save_name, scheduler, class_digits=class_digits,
                           owner=owner, student=student)
        started.append(job.start())
        return job

    yield start_run
    for job in started:
        job.stop()
    for job in started:
        wait_for(job, what="the test's runs to end")


def test_a_run_on_the_servers_digits_finishes_saves_and_reports_accuracies(start, tiny_npz):
    job = start(SHORT, save_name="lecture")  # data=None: the worker reads MNIST_PATH (the tiny npz) itself
    progress = wait_for(job)
    assert progress.state == RunState.FINISHED and not progress.stopped and progress.message == ""
    assert progress.step == progress.total_steps == len(progress.batch_losses) == len(progress.lecture_losses) == 18
    assert progress.train_accuracy >= 0.95 and progress.test_accuracy >= 0.9
    assert progress.saved_as == "lecture"
    info = ModelStore().info("lecture")
    assert info.test_accuracy == progress.test_accuracy
    assert tiny_npz.name in info.data_description
    assert not job.running and job.queue_position == 0 and job.worker_pid is None


def test_two_runs_train_at_once_on_two_workers(start):
    first, second = start(LONG, LONG_DATA), start(LONG, LONG_DATA)
    for job in (first, second):  # both train at the same time: neither ends before the test stops it
        wait_for(job, training, "both runs to train")
    assert first.queue_position == second.queue_position == 0
    assert None not in (first.worker_pid, second.worker_pid) and first.worker_pid != second.worker_pid


def test_runs_beyond_the_limit_queue_in_order_and_stop_while_queued_or_training(start, tiny_data):
    long_runs = [start(LONG, LONG_DATA, save_name="long") for _ in range(2)]
    for job in long_runs:
        wait_for(job, training, "both workers to train")
    queued = [start(SHORT, tiny_data, save_name="queued") for _ in range(3)]
    assert [job.queue_position for job in queued] == [1, 2, 3]
    assert all(job.running and job.worker_pid is None for job in queued)

    # The first two start as the two long runs end, so their estimates are those runs' time left;
    # the third waits for a queued run, whose length nobody knows yet.
    estimates = [job.estimated_start_seconds for job in queued]
    assert estimates[0] is not None and estimates[1] is not None and 0 <= estimates[0] <= estimates[1]
    assert estimates[2] is None

    queued[1].stop()
    progress = queued[1].snapshot()
    assert progress.state == RunState.STOPPED and progress.stopped and progress.step == 0
    assert progress.message == STOPPED_IN_QUEUE and progress.saved_as == ""
    assert [job.queue_position for job in queued] == [1, 0, 2]

    long_runs[0].stop()
    stopped = wait_for(long_runs[0], what="the stopped run to end")
    assert stopped.state == RunState.STOPPED and stopped.stopped and 0 < stopped.step < stopped.total_steps
    assert stopped.test_accuracy is not None and ModelStore().info(stopped.saved_as).stopped

    wait_for(queued[0], what="the first queued run to finish")
    long_runs[1].stop()
    wait_for(queued[2], what="the last queued run to finish")
    # One models folder: the free names are taken in the order the runs ended, so the first queued ran first.
    assert [job.snapshot().saved_as for job in (queued[0], queued[2])] == ["queued", "queued-2"]
    assert all(job.snapshot().state == RunState.FINISHED for job in (queued[0], queued[2]))
    assert ModelStore().info("queued").data_description == tiny_data.description


def test_a_killed_worker_fails_its_run_clearly_and_the_queue_goes_on(start, tiny_data):
    victim, other = start(LONG, LONG_DATA), start(LONG, LONG_DATA)
    waiting = start(SHORT, tiny_data)
    for job in (victim, other):
        wait_for(job, training, "both workers to train")
    assert waiting.queue_position == 1
    killed_pid = victim.worker_pid
    os.kill(killed_pid, signal.SIGKILL)

    progress = wait_for(victim, what="the killed run to end")
    assert progress.state == RunState.FAILED and progress.saved_as == ""
    assert "killed (SIGKILL)" in progress.message and "out of memory" in progress.message
    assert "Start it again" in progress.message and MAX_TRAINING_VARIABLE in progress.message

    finished = wait_for(waiting, what="the queued run to finish on a fresh worker")
    assert finished.state == RunState.FINISHED and finished.saved_as == "run"
    assert training(other.snapshot())  # the other worker never noticed


def test_a_failed_save_is_reported_as_by_training_job(start, tiny_data, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the models folder should be")
    job = start(SHORT, tiny_data, store=ModelStore(blocker))
    progress = wait_for(job)
    assert progress.state == RunState.FINISHED and progress.saved_as == ""
    assert progress.message.startswith("The model could not be saved") and str(blocker) in progress.message


def test_the_class_set_joins_the_runs_digits_when_it_starts(start, tiny_npz):
    drawings = ClassDigits()
    images, labels = make_digits(20, seed=7)
    for image, label in zip(images, labels):
        drawings.add(image, int(label), "Ada")
    job = start(SHORT, save_name="with-class", class_digits=drawings.folder)
    progress = wait_for(job)
    assert progress.state == RunState.FINISHED and progress.total_steps == 2 * (320 // 32)
    description = ModelStore().info("with-class").data_description
    assert description.startswith("320 train / 100 test digits from ")
    assert description.endswith(" and the class's handwriting (20 drawings)")


def test_a_student_has_one_run_at_a_time_and_the_teacher_sees_every_run(start, scheduler, tiny_data):
    """issue 22: one name, four tabs, four Starts, all queued ahead of the class."""
    first = start(LONG, LONG_DATA, owner="Ada", student="name Ada")
    wait_for(first, training, "Ada's run to train")
    with pytest.raises(OneRunPerStudent, match="Ada already has a run queued or training on this server"):
        ScheduledJob(SHORT, tiny_data, ModelStore(), "again", scheduler, owner="Ada", student="name Ada").start()
    other = start(LONG, LONG_DATA, owner="Alan", student="name Alan")
    anonymous = start(SHORT, tiny_data, student="session 1234")  # two workers busy: it queues
    runs = scheduler.runs()
    assert [(run.job.owner, run.queue_position) for run in runs] == [("Ada", 0), ("Alan", 0), ("", 1)]
    assert describe(runs[0].job.config).startswith("mlp 784-64-10 tanh") and 0 <= runs[0].job.snapshot().fraction < 1
    scheduler.stop(runs[0].run_id)  # the teacher stops Ada's run
    assert wait_for(first).state == RunState.STOPPED
    wait_for(anonymous, what="the queued run to take Ada's place")
    again = start(SHORT, tiny_data, owner="Ada", student="name Ada")  # Ada's run is over: she may start another
    assert wait_for(again).state == RunState.FINISHED
    other.stop()


def test_a_silent_worker_is_ended_its_run_failed_and_the_queue_goes_on(tiny_data, private_models_dir):
    """issue 22: a worker stopped with SIGSTOP froze its run at "11 s left", and the next student waited for ever."""
    watched = TrainingScheduler(max_workers=1, silence_seconds=4)
    try:
        frozen = ScheduledJob(LONG, LONG_DATA, ModelStore(), "frozen", watched).start()
        waiting = ScheduledJob(SHORT, tiny_data, ModelStore(), "waiting", watched).start()
        wait_for(frozen, training, "the run to train")
        os.kill(frozen.worker_pid, signal.SIGSTOP)
        progress = wait_for(frozen, what="the frozen run to be ended")
        assert progress.failed and "sent nothing for 4 s" in progress.message and SILENCE_VARIABLE in progress.message
        assert "start it again" in progress.message
        assert wait_for(waiting, what="the queued run to train on a fresh worker").state == RunState.FINISHED
    finally:
        watched.shutdown()


def test_a_ray_address_that_does_not_answer_as_ray_fails_the_run_and_the_queue_goes_on(tiny_data, private_models_dir,
                                                                                      monkeypatch):
    """issue 22: RAY_ADDRESS at a port that answers but is not Ray's: no message after 205 s, the slot held."""
    pytest.importorskip("ray")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted = []

    def accept_and_say_nothing():
        with contextlib.suppress(OSError):
            while True:
                accepted.append(listener.accept()[0])

    threading.Thread(target=accept_and_say_nothing, daemon=True).start()
    scheduler = TrainingScheduler(max_workers=1)
    try:
        monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{listener.getsockname()[1]}")
        lost = ScheduledJob(SHORT, tiny_data, ModelStore(), "lost", scheduler).start()
        monkeypatch.delenv("RAY_ADDRESS")
        waiting = ScheduledJob(SHORT, tiny_data, ModelStore(), "waiting", scheduler).start()  # trains here
        progress = wait_for(lost, what="the run to give up on the address")
        # The probe (core.training.ray_cluster) finds no Ray head within PROBE_SECONDS; a gRPC server that is not
        # Ray would pass it and meet the RAY_CONNECT_SECONDS limit on ray.init instead.
        assert progress.failed and "no Ray cluster answered at" in progress.message
        assert "RAY_ADDRESS=127.0.0.1:" in progress.message and "unset RAY_ADDRESS" in progress.message
        assert wait_for(waiting, what="the queued run to train").state == RunState.FINISHED
    finally:
        scheduler.shutdown()
        listener.close()
        for connection in accepted:
            connection.close()


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_max_training_value_is_a_value_error_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv(MAX_TRAINING_VARIABLE, value)
    with pytest.raises(ValueError, match=f"{MAX_TRAINING_VARIABLE}=.*whole number of at least 1"):
        TrainingScheduler()


def test_max_training_runs_reads_the_variable_or_defaults_to_at_least_one(monkeypatch):
    monkeypatch.setenv(MAX_TRAINING_VARIABLE, "3")
    assert max_training_runs() == 3
    monkeypatch.delenv(MAX_TRAINING_VARIABLE)
    assert max_training_runs() >= 1


def test_a_run_not_started_has_no_place_and_is_not_running():
    job = ScheduledJob(SHORT, make_tiny_data())
    assert not job.running and job.queue_position == 0 and job.estimated_start_seconds is None
    assert job.snapshot().state == RunState.STARTING


def test_a_worker_that_cannot_start_fails_the_run_with_a_message(monkeypatch, tiny_data):
    def no_process(*args, **kwargs):
        raise OSError(24, "Too many open files")  # what a server out of file descriptors gets

    monkeypatch.setattr(subprocess, "Popen", no_process)
    scheduler = TrainingScheduler(max_workers=1)
    try:
        job = ScheduledJob(SHORT, tiny_data, ModelStore(), "run", scheduler).start()
        progress = job.snapshot()  # failed at once, on the thread that started it: nothing hangs in the queue
        assert progress.failed and "No training worker could be started" in progress.message
        assert "Too many open files" in progress.message and job.queue_position == 0
    finally:
        scheduler.shutdown()


def test_a_prepared_worker_gets_ready_before_any_run_and_the_first_run_takes_it(tiny_npz):
    scheduler = TrainingScheduler(max_workers=1)
    try:
        assert scheduler.cold_start_seconds() is None  # no worker has started here: unknown
        scheduler.prepare_worker()
        deadline = time.monotonic() + DEADLINE_SECONDS
        while scheduler.cold_start_seconds() != 0.0:  # 0 once it has imported TensorFlow and read the digits
            assert time.monotonic() < deadline, "the prepared worker never got ready"
            time.sleep(0.05)
        scheduler.prepare_worker()  # one is running: no second
        job = ScheduledJob(SHORT, scheduler=scheduler).start()
        trained_by = wait_for(job, lambda progress: progress.step > 0, "the first step").step and job.worker_pid
        # It got ready at idle priority, but trains on TensorFlow's pools at the children's priority.
        pools = [thread for thread in thread_priorities(trained_by) if thread.name == "tf_Compute"]
        assert pools and all(thread.policy == os.SCHED_OTHER and thread.nice == CHILD_NICENESS for thread in pools)
        assert trained_by is not None and len(scheduler.runs()) == 1
        wait_for(job)
        assert scheduler.cold_start_seconds() == 0.0 and scheduler.runs() == []
    finally:
        scheduler.shutdown()


def test_work_at_low_priority_runs_on_its_own_thread_at_the_childrens_niceness_or_idle_and_raises_its_error():
    seen, running = [], set()

    def record() -> None:
        thread = threading.get_native_id()
        seen.append((thread, os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, thread), thread in running))

    at_low_priority(record, running=running)
    at_low_priority(record, idle=True)
    (first, policy, nice, listed), (second, idle_policy, _, _) = seen
    assert threading.get_native_id() not in (first, second) and running == set()
    assert (policy, nice, listed) == (os.SCHED_OTHER, CHILD_NICENESS, True) and idle_policy == os.SCHED_IDLE
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the caller's own thread is left as it was

    def fail() -> None:
        raise KeyError("the work's own error")

    with pytest.raises(KeyError, match="the work's own error"):
        at_low_priority(fail, idle=True)
