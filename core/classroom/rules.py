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


@dataclass(frozen=True)
class ClassRules:
    """The limits the teacher sets for every student's training run."""

    # Presets (core.model.config.PRESETS) whose networks students may train; empty: any network.
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
