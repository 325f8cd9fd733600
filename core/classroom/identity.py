"""Who is who in a class: students' names and the teacher's passphrase (``MNIST_TEACHER_KEY``).

With no key set the app is a single-user app; with one set, whoever types it in the sidebar is the teacher.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import re
import threading
import time
from typing import Callable

TEACHER_KEY_VARIABLE = "MNIST_TEACHER_KEY"
# After a wrong guess at the passphrase the next one waits 1 s, then 2, 4, 8... up to this, from the same browser
# session and from the same address (a new tab or a raw WebSocket client does not start afresh). Guessing went at
# 4.1 a second in a browser and 15.7 over a raw WebSocket (issue 22); from the 8th wrong guess on, one a minute.
# The teacher, behind the same school NAT as a guessing student, waits at most this long too.
MAX_GUESS_DELAY_SECONDS = 60.0
# Past this many sessions and addresses remembered, those whose wait ended an hour ago are forgotten.
GUESSERS_KEPT = 10_000

logger = logging.getLogger(__name__)


_STUDENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.'-]{0,31}$")


def teacher_key_set() -> bool:
    """Whether this server has a class (MNIST_TEACHER_KEY set) rather than a single user."""
    return bool(os.environ.get(TEACHER_KEY_VARIABLE, ""))


def is_teacher_key(typed: str) -> bool:
    """Whether ``typed`` is the teacher's passphrase; always False with no key set. Compared in constant time:
    their SHA-256 digests, so that not even the passphrase's length shows in how long a guess takes."""
    key = os.environ.get(TEACHER_KEY_VARIABLE, "")
    if not key:
        return False
    digest = hashlib.sha256(str(typed).encode("utf-8", "replace")).digest()
    return hmac.compare_digest(digest, hashlib.sha256(key.encode("utf-8", "replace")).digest())


class PassphraseGuard:
    """Slows guessing at the teacher's passphrase: after each wrong guess from a browser session or a client
    address, the next guess from either waits twice as long as the last (1 s, 2 s, 4 s ... MAX_GUESS_DELAY_SECONDS);
    a guess made sooner is refused unread. Every failure is logged with its address. A right guess clears both.

    clock : seconds, monotonic (time.monotonic by default; a test passes its own).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_delay: float = MAX_GUESS_DELAY_SECONDS):
        self._clock = clock
        self.max_delay = max_delay
        self._lock = threading.Lock()
        self._wrong: dict[str, int] = {}  # "session ..." or "address ..." -> wrong guesses in a row
        self._next: dict[str, float] = {}  # the same -> when the next guess may be made

    def check(self, typed: str, session: str, address: str | None) -> tuple[bool, str]:
        """(whether ``typed`` unlocks, what to tell the person) for a guess from ``session`` at ``address``
        (None: this machine)."""
        where = address or "localhost"
        keys = (f"session {session}", f"address {where}")
        with self._lock:
            now = self._clock()
            wait = max(self._next.get(key, now) for key in keys) - now
            if wait > 0:
                logger.warning("teacher passphrase: a guess from %s (session %.8s) refused unread, %.0f s before "
                               "the next may be made", where, session, math.ceil(wait))
                return False, (f"Too many wrong passphrases from here: wait {math.ceil(wait):.0f} s, then try again.")
            if is_teacher_key(typed):
                for key in keys:
                    self._wrong.pop(key, None)
                    self._next.pop(key, None)
                return True, ""
            delays = []
            for key in keys:
                self._wrong[key] = self._wrong.get(key, 0) + 1
                delays.append(min(2.0 ** (self._wrong[key] - 1), self.max_delay))
                self._next[key] = now + delays[-1]
            self._forget_old(now)
        logger.warning("teacher passphrase: wrong guess from %s (session %.8s), %d in a row from there; the next "
                       "may be made in %.0f s", where, session, self._wrong.get(keys[1], 0), max(delays))
        return False, (f"That is not the teacher's passphrase ({TEACHER_KEY_VARIABLE}); try again in "
                       f"{max(delays):.0f} s.")

    def _forget_old(self, now: float) -> None:
        if len(self._next) <= GUESSERS_KEPT:
            return
        for key in [key for key, allowed in self._next.items() if allowed < now - 3600]:
            self._next.pop(key)
            self._wrong.pop(key, None)



def check_student_name(text: str) -> str:
    """A student's name, stripped: "" (no name) or 1-32 letters, digits, spaces, '.', '_', "'" or '-'."""
    name = str(text).strip()
    if name and not _STUDENT_NAME.match(name):
        raise ValueError(f"{name!r} is not a usable name: use 1-32 letters, digits, spaces, '.', '_', \"'\" "
                         "or '-', starting with a letter or digit")
    return name
