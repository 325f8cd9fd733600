"""One instance per server process of what every session shares: the training scheduler, the estimate's calibrator,
the upload pool. Made on first use (so importing a module starts nothing), under a lock (so two sessions asking at
once get the same one).

    server_scheduler = one_per_server(TrainingScheduler)
    server_scheduler()  # the same TrainingScheduler every time
"""

from __future__ import annotations

import threading
from typing import Callable, Generic, TypeVar

Shared = TypeVar("Shared")


class one_per_server(Generic[Shared]):  # noqa: N801 - used like a function: server_pool = one_per_server(UploadPool)
    """A function returning the one instance ``make()`` gives, made on the first call."""

    def __init__(self, make: Callable[[], Shared]):
        self._make = make
        self._instance: Shared | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Shared:
        with self._lock:
            if self._instance is None:
                self._instance = self._make()  # may raise (a bad setting): the next call tries again
            return self._instance
