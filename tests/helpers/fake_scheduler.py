"""A stand-in for the server's training scheduler in the pages' tests: runs "train" at once from a model trained
beforehand, step by step as the test says, through RunHandle's public ``publish``."""

from __future__ import annotations

import dataclasses

from core.training.loop import TrainingResult
from core.training.progress import Progress, RunState
from core.training.scheduler import STOPPED_IN_QUEUE, RunStatus, ScheduledJob, check_one_run


class FakeScheduler:
    """Stands in for the server's training scheduler (core.training.scheduler.server_scheduler) in the pages' tests.

    A page starts its run as always, a real ScheduledJob, but the job comes here, where nothing trains:
    the test says what happens next, and the page sees it on its next run. ``train(job, steps)`` publishes
    a Progress at that step; ``finish(job)`` saves a real small model (the session's tiny_result, given the
    run's config) in the run's store under a free name based on its save name and for its owner, as a
    worker does, then publishes the finished Progress; ``fail(job, message)`` ends the run with that
    message. The page's Stop ends a run that has trained steps as stopped, its model saved, and one that
    has not as stopped in the queue. Every run has STEPS_PER_EPOCH steps an epoch.

    So a page's test is quick and certain. What a real worker does (training, saving, the queue) is
    tested in test_scheduler.py, and one test per page that starts runs still trains for real.
    """

    STEPS_PER_EPOCH = 10

    def __init__(self, result: TrainingResult):
        self.result = result  # the model every finished run saves
        self.jobs: list[ScheduledJob] = []  # every run submitted, oldest first; a run's id is its place + 1

    def train(self, job: ScheduledJob, steps: int) -> None:
        """Publish that ``job`` has trained ``steps`` steps."""
        job.publish(self._progress(job, steps))

    def finish(self, job: ScheduledJob, stopped: bool = False) -> None:
        """Save the model for ``job`` and publish its last Progress: finished, or stopped when ``stopped``."""
        result = dataclasses.replace(self.result, config=job.config, stopped=stopped)
        saved = job.store.save_new(job.save_name, result, owner=job.owner)
        job.publish(self._progress(
            job, job.snapshot().step if stopped else self._total(job),
            state=RunState.STOPPED if stopped else RunState.FINISHED, stopped=stopped, eta_seconds=0.0,
            train_accuracy=result.train_accuracy, test_accuracy=result.test_accuracy, saved_as=saved.name))

    def fail(self, job: ScheduledJob, message: str) -> None:
        job.publish(dataclasses.replace(job.snapshot(), state=RunState.FAILED, message=message))

    # What a ScheduledJob asks of its scheduler: core.training.scheduler.TrainingScheduler's methods of these names.
    def submit(self, job: ScheduledJob) -> int:
        check_one_run(job, [other for other in self.jobs if not other.snapshot().done])
        self.jobs.append(job)
        return len(self.jobs)

    def stop(self, run_id: int) -> None:
        job = self.jobs[run_id - 1]
        if job.snapshot().done:
            return
        if job.snapshot().step == 0:
            job.publish(dataclasses.replace(job.snapshot(), state=RunState.STOPPED, stopped=True,
                                             message=STOPPED_IN_QUEUE))
        else:
            self.finish(job, stopped=True)

    def queue_position(self, run_id: int) -> int:
        return 0

    def estimated_start_seconds(self, run_id: int) -> None:
        return None

    def worker_pid(self, run_id: int) -> None:
        return None

    def cold_start_seconds(self) -> float:
        return 0.0  # its runs start at once

    def runs(self) -> list[RunStatus]:
        """Every run not done yet, all of them training (nothing queues here)."""
        return [RunStatus(run_id, job) for run_id, job in enumerate(self.jobs, 1) if not job.snapshot().done]

    def _total(self, job: ScheduledJob) -> int:
        return self.STEPS_PER_EPOCH * job.config.epochs

    def _progress(self, job: ScheduledJob, step: int, **changes) -> Progress:
        """A Progress of ``job`` at ``step``, its losses falling from 2.3 as a real run's do, with ``changes``."""
        fields = dict(
            state=RunState.TRAINING, step=step, total_steps=self._total(job), epochs=job.config.epochs,
            epoch=min(step // self.STEPS_PER_EPOCH + 1, job.config.epochs),
            batch_losses=tuple(2.3 / (1 + index / self.STEPS_PER_EPOCH) for index in range(step)),
            elapsed_seconds=step / 100, samples_per_second=3200.0, eta_seconds=(self._total(job) - step) / 100,
        )
        return Progress(**{**fields, **changes})
