"""Who is who in a class: students' names and the teacher's passphrase (``MNIST_TEACHER_KEY``).

With no key set the app is a single-user app; with one set, whoever types it in the sidebar is the teacher.
"""

from __future__ import annotations

import hmac
import os
import re

TEACHER_KEY_VARIABLE = "MNIST_TEACHER_KEY"


_STUDENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.'-]{0,31}$")


def teacher_key_set() -> bool:
    """Whether this server has a class (MNIST_TEACHER_KEY set) rather than a single user."""
    return bool(os.environ.get(TEACHER_KEY_VARIABLE, ""))


def is_teacher_key(typed: str) -> bool:
    """Whether ``typed`` is the teacher's passphrase; compared in constant time; always False with no key set."""
    key = os.environ.get(TEACHER_KEY_VARIABLE, "")
    return bool(key) and hmac.compare_digest(str(typed).encode(), key.encode())


def check_student_name(text: str) -> str:
    """A student's name, stripped: "" (no name) or 1-32 letters, digits, spaces, '.', '_', "'" or '-'."""
    name = str(text).strip()
    if name and not _STUDENT_NAME.match(name):
        raise ValueError(f"{name!r} is not a usable name: use 1-32 letters, digits, spaces, '.', '_', \"'\" "
                         "or '-', starting with a letter or digit")
    return name
