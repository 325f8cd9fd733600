"""How Linux schedules a process's threads: their names, policies and nice values, from /proc."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple


class ThreadPriority(NamedTuple):
    name: str  # the thread's name (/proc/.../comm), e.g. "tf_Compute"
    policy: int  # os.SCHED_OTHER, os.SCHED_IDLE, ...
    nice: int


def thread_priorities(pid: int) -> list[ThreadPriority]:
    """Every live thread of process ``pid``; a thread that ends while being read is left out."""
    threads = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            threads.append(ThreadPriority((task / "comm").read_text().strip(), os.sched_getscheduler(int(task.name)),
                                          os.getpriority(os.PRIO_PROCESS, int(task.name))))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return threads
