"""Loss curves a chart can redraw at a flat cost, however long the run.

A live chart is redrawn a few times a second. Sending every batch loss each
time would make each redraw slower than the last (the lecture's run alone has
9,375 steps), so the chart gets at most a few thousand points: the raw losses
as a min/max envelope per bucket of steps, which keeps the spikes visible, and
an exponential moving average sampled once per bucket.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

# Weight of the past in the moving average: a window of about 1 / (1 - 0.98) = 50 steps.
SMOOTHING = 0.98
MAX_POINTS = 2000


def smoothing_for(steps: int) -> float:
    """A moving-average weight for a run of ``steps``: a window of 1/50 of the run, from 1 to 50 steps.

    A fixed 50-step window would lag far behind a short run (a CNN epoch is 468 steps).
    """
    window = min(50, max(1, steps // 50))
    return 1.0 - 1.0 / window


class LossCurve:
    """Batch losses and their moving average, grown by the steps not seen yet.

    ``update`` takes the whole loss history each time (as a training Progress
    hands it over) but only works on the new steps, so keeping the average up
    to date costs the same at step 100 as at step 100,000.
    """

    def __init__(self, smoothing: float = SMOOTHING):
        if not 0 <= smoothing < 1:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing!r}")
        self.smoothing = smoothing
        self._raw = np.empty(1024)
        self._smoothed = np.empty(1024)
        self._count = 0
        self._average = 0.0

    def __len__(self) -> int:
        return self._count

    def update(self, losses: Sequence[float]) -> "LossCurve":
        """Take in ``losses[len(self):]``, the steps added since the last update."""
        new = np.asarray(losses[self._count:], dtype=np.float64)
        end = self._count + len(new)
        if end > len(self._raw):
            capacity = max(end, 2 * len(self._raw))
            self._raw = np.resize(self._raw, capacity)
            self._smoothed = np.resize(self._smoothed, capacity)
        self._raw[self._count: end] = new
        weight, average = self.smoothing, self._average
        for offset, loss in enumerate(new.tolist()):
            average = weight * average + (1.0 - weight) * loss
            # Divide out the zero the average started from (as TensorBoard does),
            # so the line starts at the first loss instead of rising from 0.
            self._smoothed[self._count + offset] = average / (1.0 - weight ** (self._count + offset + 1))
        self._average = average
        self._count = end
        return self

    @property
    def raw(self) -> np.ndarray:
        """(steps,) every batch loss so far."""
        return self._raw[: self._count]

    @property
    def smoothed(self) -> np.ndarray:
        """(steps,) the moving average after each step."""
        return self._smoothed[: self._count]

    def raw_points(self, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
        """(steps, losses) of the raw curve, at most ``max_points`` of them; steps count from 1."""
        return envelope(self.raw, max_points)

    def smoothed_points(self, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
        """(steps, averages), one point per bucket of steps; steps count from 1."""
        values = self.smoothed
        size = bucket_size(len(values), max_points)
        index = np.arange(size - 1, len(values), size)
        if len(values) and (not len(index) or index[-1] != len(values) - 1):
            index = np.append(index, len(values) - 1)  # always end at the latest step
        return index + 1, values[index]


def bucket_size(count: int, max_points: int) -> int:
    """The smallest power of two b with ceil(count / b) <= max_points.

    Powers of two keep bucket edges fixed while a run grows (they only merge
    in pairs), so the drawn curve does not jitter from one refresh to the next.
    """
    if max_points < 1:
        raise ValueError(f"max_points must be at least 1, got {max_points}")
    size = 1
    while -(-count // size) > max_points:
        size *= 2
    return size


def envelope(values: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) with each bucket of steps reduced to its minimum and maximum, in step order.

    Returns at most ``max_points`` points (every point when there are few enough); steps count from 1.
    """
    values = np.asarray(values, dtype=np.float64)
    count = len(values)
    if count <= max_points:
        return np.arange(1, count + 1), values
    size = bucket_size(count, max(1, max_points // 2))
    padded = np.full(-(-count // size) * size, np.nan)
    padded[:count] = values
    blocks = padded.reshape(-1, size)  # (buckets, size); the last bucket is NaN-padded
    low, high = np.nanargmin(blocks, axis=1), np.nanargmax(blocks, axis=1)
    index = np.sort(np.stack([low, high], axis=1), axis=1) + (np.arange(len(blocks)) * size)[:, None]
    index = index.ravel()
    return index + 1, values[index]
