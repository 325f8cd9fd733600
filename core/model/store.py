"""Saved models: one ``<name>.keras`` file each, with the run's story inside.

A ``.keras`` file is a zip; next to Keras' own entries we add
``mnist_run.json`` (config, loss history, accuracies, time), so a model and its
history can never be separated, the file still loads in plain Keras, and a
listing reads only that small entry (no TensorFlow needed). Writes go to a
temporary file first and are moved into place in one step, so a crash in the
middle of a save leaves the earlier version intact. A model a student brought
(core.classroom.importing) is stored the same way, its metadata saying so:
origin "uploaded", no config, and how it is fed (core.model.predict.ModelIO).
"""

from __future__ import annotations

import ctypes
import errno
import functools
import json
import math
import os
import re
import reprlib
import tempfile
import time
import zipfile
from array import array
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

from core.model.config import TrainConfig, describe
from core.model.predict import ModelIO, declare_io
from core.tensorflow_import import import_tensorflow

MODELS_DIR_VARIABLE = "MNIST_MODELS_DIR"
META_ENTRY = "mnist_run.json"
# The layout of mnist_run.json. Files from before the field existed read as version 1: the same layout.
# A newer version is refused with a message rather than misread.
# Version 2 added uploaded models (core.classroom.importing): "origin": "uploaded", "config": null, "network", "io".
META_VERSION = 2
ORIGINS = ("trained", "uploaded")
# save_new: each refusal means another session just took that name. A try takes microseconds once the model is
# written, so even many servers finishing at once leave a free name within a few tries.
FREE_NAME_TRIES = 100
SUFFIX = ".keras"
# save() stores the run's story uncompressed (a lecture run's is 85 kB, 9,375 batch losses), so reading it
# costs no more memory than its bytes on disk. A compressed entry that inflates beyond this is a crafted file
# (a zip bomb), refused before it is inflated.
MAX_META_BYTES = 32 * 2**20
# A save's temporary file (.NAME-*.keras) untouched this long belongs to a save that died (killed mid-write):
# ModelStore.list removes it. A live save keeps writing its file and finishes within seconds.
STALE_SAVE_SECONDS = 600
# What a saved model's story may hold, checked where it is read (_info): a crafted mnist_run.json with 1e300
# parameters or a ragged loss list broke the Models page for everyone and could become a session's active model
# (issue 22). The largest network TrainConfig allows (8 layers of 4096 after 4 blocks of 4096 filters) has under
# 1e9 parameters; a description and an owner are a line of text.
MAX_PARAMETERS = 10**10
MAX_DESCRIPTION = 1000
MAX_OWNER = 64
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")


class StoreError(ValueError):
    """A model name or file the store cannot use; the message says which and why."""


@dataclass
class ModelInfo:
    """What the store knows about one saved model, read without loading it."""

    name: str
    path: Path
    config: TrainConfig | None  # None for a model trained elsewhere and uploaded (origin "uploaded")
    train_accuracy: float
    test_accuracy: float
    training_seconds: float
    created: str  # ISO 8601, UTC
    # Kept as 4-byte floats: every listing holds every model's losses (a 5-epoch lecture run has 9,375), and as
    # Python floats in a list they took 0.28 MB a model, 0.04 MB so (bench/classroom.py's soak, issue 20).
    batch_losses: Sequence[float] = field(default_factory=lambda: array("f"))
    epoch_history: list[dict] = field(default_factory=list)
    data_description: str = ""
    stopped: bool = False
    parameters: int = 0
    owner: str = ""  # the student who trained it (core.classroom); "" for the teacher's, the CLI's and older files
    # Accuracy on core.drawing.synthetic' drawn test digits, measured when the training worker saved it;
    # None: not measured (files from before the field, the CLI's, uploads). Old readers ignore the key.
    drawn_accuracy: float | None = None
    origin: str = "trained"  # one of ORIGINS: a run of this app, or a .keras file a student brought
    network: str = ""  # an uploaded model's layers in words (core.classroom.importing); "" for a trained one
    io: ModelIO | None = None  # how an uploaded model is fed (core.model.predict); None: as this app's own

    @property
    def summary(self) -> str:
        """The network and how it was trained, in one line (core.model.config.describe), or what was uploaded."""
        return describe(self.config) if self.config is not None else f"uploaded: {self.network}"


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
        temporary = self._temporary(target.stem)
        try:
            self._write(temporary, result, owner, drawn_accuracy)
            _move_into_place(temporary, target, overwrite)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)
        return self._info(target)

    def save_new(self, base: str, result, owner: str = "", drawn_accuracy: float | None = None) -> ModelInfo:
        """Save a TrainingResult under ``base``, or ``base-2``, ``base-3``..., whichever is free: what a finished
        run does. Written once, then named (see ``_name_new``); ``owner`` and ``drawn_accuracy`` as in ``save``.
        Raises StoreError saying what truly went wrong."""
        return self._name_new(base, lambda temporary: self._write(temporary, result, owner, drawn_accuracy))

    def add_new_file(self, base: str, content: bytes) -> ModelInfo:
        """Put a model file saved by another store (a Ray worker's, on another machine) here under ``base`` or the
        next free name, as ``save_new`` does. Raises StoreError for a file this tool did not save, leaving nothing
        behind."""

        def write(temporary: str) -> None:
            Path(temporary).write_bytes(content)
            self._info(Path(temporary))  # refuse a foreign or damaged file before it is listed

        return self._name_new(base, write)

    def add_file(self, name: str, content: bytes) -> ModelInfo:
        """Put a model file saved by another store here as ``name``, which must be free (as ``save(...,
        overwrite=False)``); atomic. Raises StoreError for a file this tool did not save, leaving nothing behind."""
        target = self.path_of(name)
        if target.exists():
            raise StoreError(f"a model named {name!r} already exists; choose another name")
        temporary = self._temporary(target.stem)
        try:
            Path(temporary).write_bytes(content)
            self._info(Path(temporary))
            _move_into_place(temporary, target, overwrite=False)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)
        return self._info(target)

    def _name_new(self, base: str, write: Callable[[str], None]) -> ModelInfo:
        """``write`` the model into a temporary file once, then give it the first free name of ``base``, ``base-2``
        ... in one step (never over another file). Another session or server may take that name between the look
        and the step; then the next free name is tried, FREE_NAME_TRIES times, each try taking microseconds. (A
        save that wrote its model again for each name lost 41 of 450 models with 3 writers, each told to check that
        the folder was writable: issue 22.)"""
        base = check_name(base)
        try:
            temporary = self._temporary(base)
        except OSError as error:
            raise self._unsaved(error) from None
        try:
            try:
                write(temporary)
            except OSError as error:
                raise self._unsaved(error) from None
            tried = []
            for _ in range(FREE_NAME_TRIES):
                tried.append(self.unique_name(base))
                target = self.path_of(tried[-1])
                try:
                    _move_into_place(temporary, target, overwrite=False)
                except StoreError:  # taken a moment ago by another save
                    continue
                except OSError as error:
                    raise self._unsaved(error) from None
                return self._info(target)
            raise StoreError(f"The model could not be saved: each of the {len(tried)} free names tried, up to "
                             f"{tried[-1]!r}, was taken by another save at the same moment; start the run again")
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)

    def _temporary(self, stem: str) -> str:
        """A new empty hidden file in the folder (made if need be), for a save in progress; OSError if it cannot."""
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{stem}-", suffix=SUFFIX, dir=self.folder)
        os.close(handle)
        return temporary

    def _write(self, temporary: str, result, owner: str, drawn_accuracy: float | None) -> None:
        """The model of a TrainingResult and its story (META_ENTRY), into the file ``temporary``."""
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
        result.model.save(temporary)
        with zipfile.ZipFile(temporary, "a") as archive:
            archive.writestr(META_ENTRY, json.dumps(meta), compress_type=zipfile.ZIP_STORED)  # see MAX_META_BYTES

    def _unsaved(self, error: OSError) -> StoreError:
        """Why a save failed, in words that name the true cause and what to do."""
        cause = error.strerror or str(error)
        hint = {
            errno.EACCES: "check that the folder is writable by the server",
            errno.EPERM: "check that the folder is writable by the server",
            errno.EROFS: "the folder is on a read-only disk: point MNIST_MODELS_DIR elsewhere",
            errno.ENOSPC: "the disk is full: free some space, or delete old models",
            errno.EDQUOT: "the disk quota is used up: free some space, or delete old models",
            errno.EEXIST: "a file stands where the models folder should be",
            errno.ENOTDIR: "a file stands where the models folder should be",
        }.get(error.errno, "see the server's log")
        return StoreError(f"The model could not be saved in {self.folder}: {cause}; {hint}")

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
        import_tensorflow()  # with the cycle collector paused, the first time (core.tensorflow_import)
        import keras

        path = self.path_of(name)
        if not path.is_file():
            raise StoreError(f"no saved model named {name!r} in {self.folder}")
        try:
            model = keras.saving.load_model(path, safe_mode=True, compile=False)
        except Exception as error:
            if not path.is_file():  # deleted meanwhile, by another session or server
                raise StoreError(f"no saved model named {name!r} in {self.folder}: it was just deleted") from None
            raise StoreError(f"{path.name} could not be loaded as a Keras model ({error})") from None
        io = self._info(path).io
        if io is not None:  # an uploaded model: fed as its import found (core.model.predict)
            declare_io(model, io)
        return model

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
        try:
            _rename_without_replacing(source, target)
        except FileExistsError:
            raise StoreError(f"a model named {new_name!r} already exists; choose another name") from None
        except FileNotFoundError:
            raise StoreError(f"no saved model named {name!r}: it was just renamed or deleted elsewhere") from None
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
            origin = meta.get("origin", "trained")
            if origin not in ORIGINS:
                raise ValueError(f"origin {origin!r:.40} is not one of {', '.join(ORIGINS)}")
            uploaded = origin == "uploaded"
            config = None if uploaded else TrainConfig.from_saved(_typed(meta["config"], dict, "config"))
            return ModelInfo(
                name=path.stem, path=path, config=config,
                train_accuracy=_fraction(meta["train_accuracy"]), test_accuracy=_fraction(meta["test_accuracy"]),
                training_seconds=_at_least_zero(meta["training_seconds"]), created=_timestamp(meta["created"]),
                batch_losses=_losses(meta.get("batch_losses", [])),
                epoch_history=_epoch_history(meta.get("epoch_history", [])),
                data_description=_text(meta.get("data_description", ""), "data_description", MAX_DESCRIPTION),
                stopped=_typed(meta.get("stopped", False), bool, "stopped"),
                parameters=_parameters(meta.get("parameters", 0)),
                owner=_text(meta.get("owner", ""), "owner", MAX_OWNER),
                drawn_accuracy=None if meta.get("drawn_accuracy") is None else _fraction(meta["drawn_accuracy"]),
                origin=origin, network=str(meta["network"]) if uploaded else "",
                io=ModelIO.from_dict(meta["io"]) if uploaded else None,
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
        raise ValueError(f"{reprlib.repr(value)} is not a finite number")
    return float(value)


def _between(value, low: float, high: float, what: str) -> float:
    """A metadata number from ``low`` to ``high``; ValueError saying it is not ``what`` for anything else."""
    number = _finite(value)
    if not low <= number <= high:
        raise ValueError(f"{number!r} is not {what}")
    return number


def _fraction(value) -> float:
    """A metadata accuracy in [0, 1]; ValueError for anything else."""
    return _between(value, 0, 1, "an accuracy between 0 and 1")


def _at_least_zero(value) -> float:
    return _between(value, 0, math.inf, "a time of at least 0 seconds")


def _parameters(value) -> int:
    """A parameter count: a whole number from 0 to MAX_PARAMETERS (1e300 broke the Models page's table)."""
    number = _finite(value)
    if number != int(number) or not 0 <= number <= MAX_PARAMETERS:
        raise ValueError(f"parameters is {number!r}, not a whole number from 0 to {MAX_PARAMETERS:,}")
    return int(number)


def _typed(value, kind: type, what: str):
    if not isinstance(value, kind):
        raise ValueError(f"{what} is a {type(value).__name__}, not a {kind.__name__}")
    return value


def _text(value, what: str, longest: int) -> str:
    text = _typed(value, str, what)
    if len(text) > longest:
        raise ValueError(f"{what} has {len(text):,} characters, more than {longest:,}")
    return text


def _timestamp(value) -> str:
    """An ISO 8601 date and time, as save() writes it."""
    text = _text(value, "created", 64)
    datetime.fromisoformat(text)  # ValueError for anything else
    return text


def _losses(value) -> array:
    """Batch losses: a flat list of finite numbers (the Models page draws them), as 4-byte floats."""
    losses = array("f", [_finite(loss) for loss in _typed(value, list, "batch_losses")])
    if not all(math.isfinite(loss) for loss in losses):
        raise ValueError("batch_losses holds a number too large for a 4-byte float (beyond 3.4e38)")
    return losses


_EPOCH_FIELDS = {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy"}


def _epoch_history(value) -> list[dict]:
    """Epoch records as save() writes them (core.training.progress.EpochRecord's fields), each checked."""
    records = []
    for record in _typed(value, list, "epoch_history"):
        if not isinstance(record, dict) or set(record) != _EPOCH_FIELDS:
            raise ValueError(f"epoch_history holds {reprlib.repr(record)}, not a record of {sorted(_EPOCH_FIELDS)}")
        epoch = _finite(record["epoch"])
        if epoch != int(epoch) or epoch < 1:
            raise ValueError(f"epoch_history has epoch {epoch!r}, not a whole number of at least 1")
        records.append({
            "epoch": int(epoch), "train_loss": _finite(record["train_loss"]),
            "train_accuracy": _fraction(record["train_accuracy"]),
            "val_loss": None if record["val_loss"] is None else _finite(record["val_loss"]),
            "val_accuracy": None if record["val_accuracy"] is None else _fraction(record["val_accuracy"]),
        })
    return records


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


_AT_FDCWD, _RENAME_NOREPLACE = -100, 1  # <fcntl.h>, <linux/fs.h>


def _rename_without_replacing(source: Path, target: Path) -> None:
    """Give ``source`` the name ``target`` in one step of the filesystem, never over an existing ``target``.

    Raises FileExistsError when ``target`` exists, FileNotFoundError when ``source`` is gone (renamed or deleted
    by another process first). Linux's renameat2(RENAME_NOREPLACE) does it in one step. A link to the new name and
    then the old one's removal took two: two servers renaming one model at the same moment each made their link,
    and 10 of 20 rounds ended with two copies (issue 22). That remains the way where renameat2 is missing (not
    Linux, or a filesystem without it), made safe by the old name's removal: whoever removes it first keeps its
    new name, the other takes its link back.
    """
    renameat2 = getattr(_libc(), "renameat2", None)
    if renameat2 is not None:
        if renameat2(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), _RENAME_NOREPLACE) == 0:
            return
        error = ctypes.get_errno()
        if error not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):  # anything else: this filesystem answered
            raise OSError(error, os.strerror(error), str(source))
    os.link(source, target)
    try:
        os.unlink(source)
    except FileNotFoundError:
        os.unlink(target)
        raise


@functools.lru_cache(maxsize=1)
def _libc():
    """The C library, or None where it cannot be loaded."""
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def check_name(name: str) -> str:
    """A model name: 1-64 letters, digits, spaces, '.', '_' or '-', not starting with a symbol."""
    name = str(name).strip()
    if not _NAME.match(name) or name.endswith("."):
        raise StoreError(
            f"{name!r} is not a usable model name: use 1-64 letters, digits, spaces, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name
