"""The class leaderboard: each student's best saved model, by test or drawn-digit accuracy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.model.store import ModelInfo

# What a leaderboard ranks by: accuracy on the test digits, or on those digits redrawn as a person
# draws on the pad (core.drawing.synthetic), which a model trained on clean MNIST alone may read worse.
Metric = Literal["test", "drawn"]


@dataclass(frozen=True)
class LeaderboardRow:
    """One student's best model on one metric."""

    owner: str
    model: str  # the name of their model with the best accuracy on that metric
    accuracy: float
    models: int  # how many models they have saved


def leaderboard(models: list[ModelInfo], by: Metric = "test") -> list[LeaderboardRow]:
    """Each owner's best model by test accuracy (``by="test"``) or drawn-digit accuracy (``"drawn"``),
    best first, ties by name. Models without an owner are not ranked; for "drawn", neither are models
    whose drawn accuracy was not measured (ModelInfo.drawn_accuracy None)."""
    if by not in ("test", "drawn"):
        raise ValueError(f"by must be 'test' or 'drawn', got {by!r}")
    best: dict[str, tuple[float, str]] = {}
    counts: dict[str, int] = {}
    for info in models:
        if not info.owner:
            continue
        counts[info.owner] = counts.get(info.owner, 0) + 1
        accuracy = info.test_accuracy if by == "test" else info.drawn_accuracy
        if accuracy is not None and (info.owner not in best or accuracy > best[info.owner][0]):
            best[info.owner] = (accuracy, info.name)
    rows = [LeaderboardRow(owner, name, accuracy, counts[owner]) for owner, (accuracy, name) in best.items()]
    return sorted(rows, key=lambda row: (-row.accuracy, row.owner))
