"""The teacher's limits for a class (ClassRules, one JSON file beside the models), and clearing the class's models.

With no ``MNIST_TEACHER_KEY`` set the app is a single-user app: no limits, and a model without an
owner is anyone's to rename or delete. With a key set, whoever types it in the sidebar is the teacher:
they set the limits every student's run must keep (ClassRules, one small JSON file beside the models,
shared by every session of the server) and may change any model; a student changes only their own.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from core.classroom.identity import teacher_key_set
from core.model.config import PRESETS, TrainConfig, describe_network
from core.model.store import ModelStore

RULES_FILE = "classroom.json"  # in the models folder, so every server on that folder shares the rules
MAX_RUN_MINUTES_VARIABLE = "MNIST_MAX_RUN_MINUTES"
# The longest a student's run may be estimated to take when the teacher set no limit (or there is no teacher):
# one run holds a training slot the whole class queues for, and a link can ask for 20 h (the cnn preset with
# 500 epochs of batch 1, issue 22). Every preset takes under 2.5 min on the README's 2-core machines. 0: no limit.
MAX_RUN_MINUTES = 30


@dataclass(frozen=True)
class ClassRules:
    """The limits the teacher sets for every student's training run."""

    # Presets (core.model.config.PRESETS) whose networks students may train; empty: any network.
    allowed_presets: tuple[str, ...] = ()
    # The most epochs a student's run may have; None: only TrainConfig's own limit. One Lecture
    # epoch on the full set is a few seconds, a CNN epoch far more, so this bounds the queue.
    max_epochs: int | None = None
    # The longest a student's run may be estimated to take (core.training.estimate), in minutes; None: the
    # server's MNIST_MAX_RUN_MINUTES.
    max_minutes: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "allowed_presets", tuple(self.allowed_presets))
        unknown = [name for name in self.allowed_presets if name not in PRESETS]
        if unknown:
            raise ValueError(f"allowed_presets has unknown preset(s) {', '.join(unknown)}; "
                             f"choose from {', '.join(PRESETS)}")
        for name in ("max_epochs", "max_minutes"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a whole number of at least 1 (or None for no limit), got {value!r}")

    def check(self, config: TrainConfig) -> None:
        """Raise ValueError naming every limit ``config`` breaks, each with what to do instead."""
        broken = []
        if self.max_epochs is not None and config.epochs > self.max_epochs:
            broken.append(f"epochs is {config.epochs}, above the class limit of {self.max_epochs} the teacher "
                          f"set: train for at most {self.max_epochs} epochs")
        if self.allowed_presets and not any(_same_network(config, PRESETS[name]) for name in self.allowed_presets):
            broken.append(f"the network {describe_network(config)} is not allowed in this class: the teacher "
                          f"allows the networks of the {', '.join(self.allowed_presets)} preset(s); pick one")
        if broken:
            raise ValueError("; and ".join(broken))


def _same_network(config: TrainConfig, other: TrainConfig) -> bool:
    """Same layers; the training settings (learning rate, batch, epochs...) may differ."""
    return describe_network(config) == describe_network(other)


def rules_path(folder: str | os.PathLike | None = None) -> Path:
    """The rules file in ``folder``, by default the models folder (core.model.store.ModelStore)."""
    return ModelStore(folder).folder / RULES_FILE


def load_rules(folder: str | os.PathLike | None = None) -> ClassRules:
    """The teacher's rules; no limits when none were saved. Raises ValueError naming a damaged file."""
    path = rules_path(folder)
    if not path.is_file():
        return ClassRules()
    try:
        values = json.loads(path.read_text())
        return ClassRules(tuple(values["allowed_presets"]), values["max_epochs"], values.get("max_minutes"))
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
            json.dump({"allowed_presets": list(rules.allowed_presets), "max_epochs": rules.max_epochs,
                       "max_minutes": rules.max_minutes}, file)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def check_run(config: TrainConfig, folder: str | os.PathLike | None = None) -> None:
    """Raise ValueError naming the class limit ``config`` breaks; nothing to check without a teacher key."""
    if teacher_key_set():
        load_rules(folder).check(config)


def longest_run_minutes(folder: str | os.PathLike | None = None) -> int | None:
    """The most minutes a student's run may be estimated to take: the class rules' ``max_minutes`` when a teacher
    set one, else ``MNIST_MAX_RUN_MINUTES`` (MAX_RUN_MINUTES by default); None for no limit (the variable at 0).
    Raises ValueError naming the variable or a damaged rules file."""
    if teacher_key_set():
        minutes = load_rules(folder).max_minutes
        if minutes is not None:
            return minutes
    return server_run_minutes()


def server_run_minutes() -> int | None:
    """``MNIST_MAX_RUN_MINUTES``, else MAX_RUN_MINUTES; None for no limit (0). Raises ValueError naming it."""
    text = os.environ.get(MAX_RUN_MINUTES_VARIABLE, "").strip()
    if not text:
        return MAX_RUN_MINUTES
    if not text.isdecimal():
        raise ValueError(f"{MAX_RUN_MINUTES_VARIABLE}={text[:20]!r} is not a whole number of minutes: set it to one "
                         f"(0 for no limit), or unset it for {MAX_RUN_MINUTES}")
    return int(text) or None


def check_duration(seconds: float, shown: str, folder: str | os.PathLike | None = None) -> None:
    """Raise ValueError, with the estimate ``shown`` as the page said it, when a run estimated to take ``seconds``
    is longer than longest_run_minutes allows."""
    minutes = longest_run_minutes(folder)
    if minutes is not None and seconds > 60 * minutes:
        who = ("the teacher's class rules" if teacher_key_set() and load_rules(folder).max_minutes
               else f"this server's {MAX_RUN_MINUTES_VARIABLE}")
        raise ValueError(f"this run would take {shown}, longer than the {minutes} min a run may take here "
                         f"({who}): train fewer epochs, a smaller network or with larger batches")


def clear_class_models(store: ModelStore) -> list[str]:
    """Delete every model a student saved (one with an owner); the teacher's own stay. Returns the names."""
    names = [info.name for info in store.list().models if info.owner]
    for name in names:
        store.delete(name)
    return names
