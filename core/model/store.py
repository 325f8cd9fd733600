"""Saved models: one ``<name>.keras`` file each, with the run's story inside.

A ``.keras`` file is a zip; next to Keras' own entries we add
``mnist_run.json`` (config, loss history, accuracies, time), so a model and its
history can never be separated, the file still loads in plain Keras, and a
listing reads only that small entry (no TensorFlow needed). Writes go to a
temporary file first and are moved into place in one step, so a crash in the
middle of a save leaves the earlier version intact.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from core.model.config import TrainConfig

MODELS_DIR_VARIABLE = "MNIST_MODELS_DIR"
META_ENTRY = "mnist_run.json"
# The layout of mnist_run.json. Files from before the field existed read as version 1: the same layout.
# A newer version is refused with a message rather than misread.
META_VERSION = 1
# save_under_free_name: each refusal means another session just saved under that name. Runs finish at a
# person's pace, so a second collision is rare and a third means something else is wrong.
FREE_NAME_TRIES = 3
SUFFIX = ".keras"
# save() stores the run's story uncompressed (a lecture run's is 85 kB, 9,375 batch losses), so reading it
# costs no more memory than its bytes on disk. A compressed entry that inflates beyond this is a crafted file
# (a zip bomb), refused before it is inflated.
MAX_META_BYTES = 32 * 2**20
# A save's temporary file (.NAME-*.keras) untouched this long belongs to a save that died (killed mid-write):
# ModelStore.list removes it. A live save keeps writing its file and finishes within seconds.
STALE_SAVE_SECONDS = 600
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")


class StoreError(ValueError):
    """A model name or file the store cannot use; the message says which and why."""


@dataclass
class ModelInfo:
    """What the store knows about one saved model, read without loading it."""

    name: str
    path: Path
    config: TrainConfig
    train_accuracy: float
    test_accuracy: float
    training_seconds: float
    created: str  # ISO 8601, UTC
    batch_losses: list[float] = field(default_factory=list)
    epoch_history: list[dict] = field(default_factory=list)
    data_description: str = ""
    stopped: bool = False
    parameters: int = 0
    owner: str = ""  # the student who trained it (core.classroom); "" for the teacher's, the CLI's and older files
    # Accuracy on core.drawing.synthetic' drawn test digits, measured when the training worker saved it;
    # None: not measured (files from before the field, the CLI's, uploads). Old readers ignore the key.
    drawn_accuracy: float | None = None


@dataclass
class Listing:
    """Saved models, newest first, and the files that could not be read (name, why)."""

    models: list[ModelInfo]
    problems: list[tuple[str, str]]


class ModelStore:
    """Save, list, load, rename and delete models in one folder."""

    def __init__(self, folder: str | os.PathLike | None = None):
        folder = folder or os.environ.get(MODELS_DIR_VARIABLE) or "models"
        self.folder = Path(folder).expanduser()

    def path_of(self, name: str) -> Path:
        return self.folder / f"{check_name(name)}{SUFFIX}"

    def save(self, name: str, result, overwrite: bool = True, owner: str = "",
             drawn_accuracy: float | None = None) -> ModelInfo:
        """Save a TrainingResult under ``name``; atomic, so the old version survives a crash.

        owner : the student's name the model is listed under ("" for nobody's); see ``rename``.
        drawn_accuracy : core.evaluation.metrics.drawn_accuracy of the model, or None when not measured.
        """
        target = self.path_of(name)
        if target.exists() and not overwrite:
            raise StoreError(f"a model named {name!r} already exists; choose another name")
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "version": META_VERSION,
            "config": result.config.to_dict(),
            "train_accuracy": result.train_accuracy,
            "test_accuracy": result.test_accuracy,
            "training_seconds": result.wall_seconds,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "batch_losses": [round(loss, 5) for loss in result.batch_losses],
            "epoch_history": [vars(record) for record in result.epoch_history],
            "data_description": result.data_description,
            "stopped": result.stopped,
            "parameters": int(result.model.count_params()),
            "owner": owner,
            "drawn_accuracy": drawn_accuracy,
        }
        with _temporary_beside(target) as temporary:
            result.model.save(temporary)
            with zipfile.ZipFile(temporary, "a") as archive:
                archive.writestr(META_ENTRY, json.dumps(meta), compress_type=zipfile.ZIP_STORED)  # see MAX_META_BYTES
            _move_into_place(temporary, target, overwrite)
        return self._info(target)

    def add_file(self, name: str, content: bytes) -> ModelInfo:
        """Put a model file saved by another store (a Ray worker's, on another machine) here as ``name``.

        content : the bytes of a ``.keras`` file written by ``save``. The name must be free, as with
        ``save(..., overwrite=False)``; the write is atomic in the same way. Raises StoreError for a file
        this tool did not save, leaving nothing behind.
        """
        target = self.path_of(name)
        if target.exists():
            raise StoreError(f"a model named {name!r} already exists; choose another name")
        self.folder.mkdir(parents=True, exist_ok=True)
        with _temporary_beside(target) as temporary:
            Path(temporary).write_bytes(content)
            self._info(Path(temporary))  # refuse a foreign or damaged file before it is listed
            _move_into_place(temporary, target, overwrite=False)
        return self._info(target)

    def list(self) -> Listing:
        """Every readable model, newest first; unreadable files are reported, not raised."""
        models, problems = [], []
        if not self.folder.is_dir():
            return Listing(models, problems)
        self.remove_stale_temporary_files()
        for path in sorted(self.folder.glob(f"*{SUFFIX}")):
            if path.name.startswith("."):
                continue  # a save in progress
            try:
                models.append(self._info(path))
            except StoreError as error:
                if path.exists():  # gone since the glob: deleted by another session or server, not damaged
                    problems.append((path.name, str(error)))
        models.sort(key=lambda info: info.created, reverse=True)
        return Listing(models, problems)

    def info(self, name: str) -> ModelInfo:
        path = self.path_of(name)
        if not path.is_file():
            raise StoreError(f"no saved model named {name!r} in {self.folder}")
        return self._info(path)

    def load(self, name: str):
        """The Keras model saved as ``name`` (loaded in Keras' safe mode)."""
        import keras

        path = self.path_of(name)
        if not path.is_file():
            raise StoreError(f"no saved model named {name!r} in {self.folder}")
        try:
            return keras.saving.load_model(path, safe_mode=True, compile=False)
        except Exception as error:
            if not path.is_file():  # deleted meanwhile, by another session or server
                raise StoreError(f"no saved model named {name!r} in {self.folder}: it was just deleted") from None
            raise StoreError(f"{path.name} could not be loaded as a Keras model ({error})") from None

    def rename(self, name: str, new_name: str, by: str | None = None, unowned_shared: bool = True) -> ModelInfo:
        """Rename a model; ``by`` and ``unowned_shared`` as in ``check_owner``."""
        source = self.path_of(name)
        if not source.is_file():
            raise StoreError(f"no saved model named {name!r}")
        problems, target = [], None  # every reason at once: a student fixes them all in one go
        try:
            self.check_owner(name, by, unowned_shared, "rename")
        except StoreError as error:
            problems.append(str(error))
        try:
            target = self.path_of(new_name)
        except StoreError as error:
            problems.append(str(error))
        if target is not None and target.exists():
            problems.append(f"a model named {new_name!r} already exists; choose another name")
        if problems:
            raise StoreError("; and ".join(problems))
        _move_into_place(str(source), target, overwrite=False)  # refuses a name another session took meanwhile
        source.unlink(missing_ok=True)  # the old name (already gone where the folder has no hard links)
        return self._info(target)

    def delete(self, name: str, by: str | None = None, unowned_shared: bool = True) -> None:
        """Delete a model; ``by`` and ``unowned_shared`` as in ``check_owner``."""
        path = self.path_of(name)
        if not path.is_file():
            raise StoreError(f"no saved model named {name!r}")
        self.check_owner(name, by, unowned_shared, "delete")
        try:
            path.unlink()
        except FileNotFoundError:  # another session or server deleted it first
            raise StoreError(f"no saved model named {name!r}") from None

    def check_owner(self, name: str, by: str | None, unowned_shared: bool = True, action: str = "change") -> None:
        """Raise StoreError, naming the owner, unless ``by`` may ``action`` the model ``name``.

        by : the student asking; None for whoever may change any model (the teacher, the CLI).
        unowned_shared : whether a model with no owner is anyone's to change (a single-user app) or
            only the teacher's (a class with a teacher key, where ``by`` is never None for a student).
        """
        owner = self.info(name).owner
        if by is None or (owner and owner == by) or (not owner and unowned_shared):
            return
        if owner:
            raise StoreError(f"{name!r} belongs to {owner}: only {owner} or the teacher can {action} it")
        raise StoreError(f"{name!r} has no owner: in this class only the teacher can {action} it")

    def save_under_free_name(self, base: str, save: Callable[[str], ModelInfo]) -> ModelInfo:
        """``save(name)`` under ``unique_name(base)``: what a finished run does. Another session or server
        may take that name between the two calls (the save then refuses it), so a few names are tried.

        Raises StoreError saying the model could not be saved, with the last problem and the folder.
        """
        problem = None
        for _ in range(FREE_NAME_TRIES):
            try:
                return save(self.unique_name(base))
            except (StoreError, OSError) as error:
                problem = error
        raise StoreError(f"The model could not be saved: {problem}. Check that {self.folder} is writable")

    def unique_name(self, base: str) -> str:
        """``base``, or ``base-2``, ``base-3``... whichever is not taken yet."""
        base = check_name(base)
        name, counter = base, 2
        while self.path_of(name).exists():
            suffix = f"-{counter}"
            name, counter = base[: 64 - len(suffix)] + suffix, counter + 1
        return name

    def _info(self, path: Path) -> ModelInfo:
        try:
            with zipfile.ZipFile(path) as archive:
                if META_ENTRY not in archive.namelist():
                    raise StoreError(f"{path.name} was not saved by this tool (no {META_ENTRY} inside)")
                entry = archive.getinfo(META_ENTRY)
                if entry.file_size > MAX_META_BYTES and entry.compress_type != zipfile.ZIP_STORED:
                    raise StoreError(f"{path.name} is damaged or not a model file ({META_ENTRY} would inflate to "
                                     f"{entry.file_size:,} bytes)")
                meta = json.loads(archive.read(META_ENTRY))
            if not isinstance(meta, dict):
                raise TypeError(f"{META_ENTRY} holds a {type(meta).__name__}, not an object")
            version = meta.get("version", 1)
            if not isinstance(version, int) or version > META_VERSION:
                raise StoreError(f"{path.name} was saved by a newer version of this tool (format {version!r}, "
                                 f"this one reads up to {META_VERSION}); update the tool to open it")
            if version < 1:
                raise StoreError(f"{path.name} has format {version!r}, older than any this tool wrote; "
                                 "train the model again")
            return ModelInfo(
                name=path.stem, path=path, config=TrainConfig.from_saved(meta["config"]),
                train_accuracy=_fraction(meta["train_accuracy"]), test_accuracy=_fraction(meta["test_accuracy"]),
                training_seconds=_finite(meta["training_seconds"]), created=str(meta["created"]),
                batch_losses=list(meta.get("batch_losses", [])), epoch_history=list(meta.get("epoch_history", [])),
                data_description=str(meta.get("data_description", "")), stopped=bool(meta.get("stopped", False)),
                parameters=int(_finite(meta.get("parameters", 0))), owner=str(meta.get("owner", "")),
                drawn_accuracy=None if meta.get("drawn_accuracy") is None else _fraction(meta["drawn_accuracy"]),
            )
        except StoreError:
            raise
        except FileNotFoundError:  # deleted after the caller found it, by another session or server
            raise StoreError(f"no saved model named {path.stem!r} in {self.folder}: it was just deleted") from None
        except RecursionError:  # json nested thousands deep: Python's parser gives up
            raise StoreError(f"{path.name} is damaged or not a model file ({META_ENTRY} is nested too deep)") from None
        except Exception as error:  # zipfile, json, a field of the wrong type or size: one bad file, never the listing
            raise StoreError(f"{path.name} is damaged or not a model file ({type(error).__name__}: {error})") from None

    def remove_stale_temporary_files(self) -> list[str]:
        """Delete the temporary files of saves that died (``.NAME-*.keras`` untouched for STALE_SAVE_SECONDS);
        returns their names. A save in progress keeps writing its file, so it is never taken for a dead one."""
        removed = []
        if not self.folder.is_dir():
            return removed
        now = time.time()
        for path in self.folder.glob(f".*{SUFFIX}"):
            try:
                if path.is_file() and now - path.stat().st_mtime > STALE_SAVE_SECONDS:
                    path.unlink()
                    removed.append(path.name)
            except OSError:  # removed by another server's clean-up, or a read-only folder: nothing to do
                continue
        return removed


def _finite(value) -> float:
    """A metadata number; ValueError for anything else (a string, inf, nan, 1e400)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{value!r:.40} is not a finite number")
    return float(value)


def _fraction(value) -> float:
    """A metadata accuracy in [0, 1]; ValueError for anything else."""
    number = _finite(value)
    if not 0 <= number <= 1:
        raise ValueError(f"{number!r} is not an accuracy between 0 and 1")
    return number


@contextlib.contextmanager
def _temporary_beside(target: Path) -> Iterator[str]:
    """The path of a new empty file in ``target``'s folder, hidden (a leading dot) and removed afterwards unless it
    was moved into place meanwhile: a save is whole or absent."""
    handle, temporary = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=SUFFIX, dir=target.parent)
    os.close(handle)
    try:
        yield temporary
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _move_into_place(temporary: str, target: Path, overwrite: bool) -> None:
    """Give the finished file ``temporary`` the name ``target`` in one step (the caller removes ``temporary``).

    Without ``overwrite``, a file another process saved as ``target`` since the caller checked stays, and
    StoreError says the name is taken: two workers or servers finishing at once pick the same free name
    (unique_name), and os.replace would silently drop one student's model (2-14 of 200 saves by two
    processes, tests/test_two_servers.py). os.link never replaces an existing name, on NFS too.
    """
    if overwrite:
        os.replace(temporary, target)
        return
    try:
        os.link(temporary, target)
    except FileExistsError:
        raise StoreError(f"a model named {target.stem!r} already exists; choose another name") from None
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        # A folder without hard links (some FUSE and SMB mounts): check, then replace; the race stays open there.
        if target.exists():
            raise StoreError(f"a model named {target.stem!r} already exists; choose another name") from None
        os.replace(temporary, target)


def check_name(name: str) -> str:
    """A model name: 1-64 letters, digits, spaces, '.', '_' or '-', not starting with a symbol."""
    name = str(name).strip()
    if not _NAME.match(name) or name.endswith("."):
        raise StoreError(
            f"{name!r} is not a usable model name: use 1-64 letters, digits, spaces, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name
