"""A class on one server: students' names, the teacher's passphrase and limits, the leaderboard, the join address.

With no ``MNIST_TEACHER_KEY`` set the app is a single-user app: no limits, and a model without an
owner is anyone's to rename or delete. With a key set, whoever types it in the sidebar is the teacher:
they set the limits every student's run must keep (ClassRules, one small JSON file beside the models,
shared by every session of the server) and may change any model; a student changes only their own.
"""

from __future__ import annotations

import hmac
import json
import os
import re
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.models import PRESETS, TrainConfig, describe_network
from core.store import ModelInfo, ModelStore

TEACHER_KEY_VARIABLE = "MNIST_TEACHER_KEY"
RULES_FILE = "classroom.json"  # in the models folder, so every server on that folder shares the rules
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


@dataclass(frozen=True)
class ClassRules:
    """The limits the teacher sets for every student's training run."""

    # Presets (core.models.PRESETS) whose networks students may train; empty: any network.
    allowed_presets: tuple[str, ...] = ()
    # The most epochs a student's run may have; None: only TrainConfig's own limit. One Lecture
    # epoch on the full set is a few seconds, a CNN epoch far more, so this bounds the queue.
    max_epochs: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "allowed_presets", tuple(self.allowed_presets))
        unknown = [name for name in self.allowed_presets if name not in PRESETS]
        if unknown:
            raise ValueError(f"allowed_presets has unknown preset(s) {', '.join(unknown)}; "
                             f"choose from {', '.join(PRESETS)}")
        epochs = self.max_epochs
        if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1):
            raise ValueError(f"max_epochs must be a whole number of at least 1 (or None for no limit), got {epochs!r}")

    def check(self, config: TrainConfig) -> None:
        """Raise ValueError naming the limit ``config`` breaks and what to do instead."""
        if self.max_epochs is not None and config.epochs > self.max_epochs:
            raise ValueError(f"epochs is {config.epochs}, above the class limit of {self.max_epochs} the teacher "
                             f"set: train for at most {self.max_epochs} epochs")
        if self.allowed_presets and not any(_same_network(config, PRESETS[name]) for name in self.allowed_presets):
            raise ValueError(f"the network {describe_network(config)} is not allowed in this class: the teacher "
                             f"allows the networks of the {', '.join(self.allowed_presets)} preset(s); pick one")


def _same_network(config: TrainConfig, other: TrainConfig) -> bool:
    """Same layers; the training settings (learning rate, batch, epochs...) may differ."""
    return describe_network(config) == describe_network(other)


def rules_path(folder: str | os.PathLike | None = None) -> Path:
    """The rules file in ``folder``, by default the models folder (core.store.ModelStore)."""
    return ModelStore(folder).folder / RULES_FILE


def load_rules(folder: str | os.PathLike | None = None) -> ClassRules:
    """The teacher's rules; no limits when none were saved. Raises ValueError naming a damaged file."""
    path = rules_path(folder)
    if not path.is_file():
        return ClassRules()
    try:
        values = json.loads(path.read_text())
        return ClassRules(tuple(values["allowed_presets"]), values["max_epochs"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError, RecursionError) as error:
        raise ValueError(f"the class rules in {path} are damaged ({error}): the teacher can save them again "
                         "on the Models page") from None


def save_rules(rules: ClassRules, folder: str | os.PathLike | None = None) -> None:
    """Write the rules atomically: a reader sees the old file or the new one, never half of one."""
    path = rules_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as file:
            json.dump({"allowed_presets": list(rules.allowed_presets), "max_epochs": rules.max_epochs}, file)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def check_run(config: TrainConfig, folder: str | os.PathLike | None = None) -> None:
    """Raise ValueError naming the class limit ``config`` breaks; nothing to check without a teacher key."""
    if teacher_key_set():
        load_rules(folder).check(config)


def clear_class_models(store: ModelStore) -> list[str]:
    """Delete every model a student saved (one with an owner); the teacher's own stay. Returns the names."""
    names = [info.name for info in store.list().models if info.owner]
    for name in names:
        store.delete(name)
    return names


# What a leaderboard ranks by: accuracy on the test digits, or on those digits redrawn as a person
# draws on the pad (core.drawn_digits), which a model trained on clean MNIST alone may read worse.
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


def network_address() -> str:
    """This machine's address on its network (what Streamlit prints as the Network URL), else 127.0.0.1.

    Connecting a UDP socket only picks the interface a packet would leave by: nothing is sent.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def join_url(port: int, address: str | None = None) -> str:
    """The address students type (or scan) to join: http://<network address>:<port>/."""
    return f"http://{address or network_address()}:{port}/"
