"""Training: the loop (loop), a run's progress (progress), a run to its saved model (job), augmentation, the
estimate of a run's time, and where runs train: worker processes (scheduler, child_process) or Ray (ray_cluster).

The top engine layer: it uses every other subpackage of core.
"""

from core.training.estimate import estimate_seconds, format_estimate
from core.training.job import TrainingJob, train_and_save
from core.training.loop import TrainingDiverged, TrainingResult, train
from core.training.progress import EpochRecord, Progress, RunHandle, RunState
from core.training.scheduler import ScheduledJob, TrainingScheduler, server_scheduler

__all__ = [
    "EpochRecord", "Progress", "RunHandle", "RunState", "ScheduledJob", "TrainingDiverged", "TrainingJob",
    "TrainingResult", "TrainingScheduler", "estimate_seconds", "format_estimate", "server_scheduler", "train",
    "train_and_save",
]
