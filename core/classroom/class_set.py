"""The class's own handwriting: digits drawn on the Draw page, each with the digit its author meant.

The set lives beside the saved models, in ``<models folder>/class-digits/``, so every server on
that folder shares it and it outlasts restarts. One small PNG per drawing: the 28×28 image the
model saw (greyscale, MNIST's white on black), with the label and the student's name in the PNG's
text entries, so a teacher can open the folder and look. A file is written under a hidden
temporary name and moved into place in one step (``os.replace``), so a listing never sees half a
file; its name is the time and a random UUID, so two servers adding at once never overwrite each
other and names sort oldest first. A file once written never changes, so it is read once per
process and kept (by name) from then on.

``with_class_digits`` puts the drawings in front of a data set's training digits (what a training
run with "Add the class's handwriting" trains on); ``ClassSet.as_test_data`` makes them the test
digits of a data set, so ``core.evaluation.evaluate`` measures a model on them as on MNIST's test set.

The teacher takes the set home as MNIST files (``class_set_npz``, ``class_set_idx_zip``): every fifth drawing
of each digit is a test digit (``ClassSet.as_data_set``), and the zip carries a short README (how many of each
digit, how many students drew them, as counts only, and the date).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import threading
import time
import uuid
import zipfile
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from core.classroom.identity import check_student_name
from core.data.export import IDX_FILES, idx_files, npz_bytes
from core.data.mnist import IMAGE_SIDE, NUM_CLASSES, MnistData
from core.model.store import ModelStore

FOLDER_NAME = "class-digits"  # inside the models folder
SUFFIX = ".png"
# The most drawings one student may add. 200 is 20 of each digit: plenty to show how someone writes.
# It keeps one student (or a runaway script) from making up most of the set, and a class of 30
# under 6,000 files: 4.7 MB of pixels, read in 0.7 s the first time a process lists them and
# 0.04 s after (Intel Xeon, Sapphire Rapids, 2 cores, busy). A student without a name is counted by browser
# session: 200 unnamed drawings used to shut every unnamed student out (issue 22).
MAX_PER_STUDENT = 200
# The most drawings of one digit by one student: 8,000 drawings of a "1" labelled 7 under 40 names lowered a
# model's test accuracy from 95.88% to 95.52% (issue 22); now each name adds at most 30 of any one digit.
MAX_PER_LABEL = 30
# The most drawings the class set keeps, whoever drew them: 30 students' full share; each epoch then trains on
# at most 9% of drawings beside MNIST's 60,000, however many names a class invents.
MAX_DRAWINGS = 6000
_ID = re.compile(r"^\d{20}-[0-9a-f]{32}$")  # a drawing's file name without SUFFIX: time in ns, UUID
# As MNIST keeps a sixth of its digits for testing and the built-in sample a fifth: every fifth drawing of each
# digit (oldest first) is a test digit of the downloaded set.
TEST_EVERY = 5
README_NAME = "README.txt"


class ClassDigitsFull(ValueError):
    """A drawing over a cap: MAX_PER_STUDENT, MAX_PER_LABEL or MAX_DRAWINGS; the message says which and what to do."""


@dataclass(frozen=True)
class ClassSet:
    """The class's drawings, oldest first.

    images : (N, 28, 28) uint8, 0-255, white digit on black, as MNIST's.
    labels : (N,) uint8, the digit each author meant.
    students : N names ("" for a drawing by nobody named).
    ids : N drawing ids (file names without the suffix), for ``ClassDigits.delete``.
    skipped : files in the folder that could not be read as drawings, left out.
    sessions : N browser sessions of the drawings by nobody named ("" for a named student's), for the caps.
    """

    images: np.ndarray
    labels: np.ndarray
    students: tuple[str, ...]
    ids: tuple[str, ...]
    skipped: tuple[str, ...] = ()
    sessions: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def key(self) -> str:
        """A short name for exactly these drawings, for caches: it changes when one is added or deleted."""
        return f"class-digits:{len(self)}:" + hashlib.sha1(" ".join(self.ids).encode()).hexdigest()[:16]

    def per_student(self) -> dict[str, int]:
        """Drawings per student, most first."""
        return dict(Counter(self.students).most_common())

    def authors(self) -> tuple[str, ...]:
        """Who drew each drawing, as the caps count them: the student's name, else "session <their session>"."""
        sessions = self.sessions or ("",) * len(self)
        return tuple(student or f"session {session}" for student, session in zip(self.students, sessions))

    def as_test_data(self) -> MnistData:
        """These drawings as the test digits of a data set with no training digits (for core.evaluation.evaluate)."""
        empty = np.zeros((0, IMAGE_SIDE, IMAGE_SIDE), np.uint8)
        return MnistData(empty, np.zeros(0, np.uint8), self.images, self.labels, source="the class's handwriting")

    def test_mask(self) -> np.ndarray:
        """(N,) bool: the drawings the downloaded set keeps for testing. Every TEST_EVERY-th drawing of each digit,
        oldest first; with fewer than that of every digit, the newest drawing, so both parts have digits."""
        positions = np.zeros(len(self), np.int64)  # each drawing's place among the drawings of its digit
        for digit in range(NUM_CLASSES):
            of_digit = np.flatnonzero(self.labels == digit)
            positions[of_digit] = np.arange(len(of_digit))
        test = positions % TEST_EVERY == TEST_EVERY - 1
        if not test.any() and len(self) >= 2:
            test[-1] = True
        return test

    def as_data_set(self) -> MnistData:
        """These drawings as an MNIST data set, split by ``test_mask``; ValueError with fewer than 2 drawings."""
        if len(self) < 2:
            raise ValueError(f"the class set holds {count_text(len(self))}: a data set needs at least 2, one to "
                             "train on and one to test; save more on the Draw page")
        test = self.test_mask()
        return MnistData(self.images[~test], self.labels[~test], self.images[test], self.labels[test],
                         source=f"the class's handwriting ({count_text(len(self))})")


@dataclass(frozen=True)
class Drawing:
    """One saved drawing."""

    id: str
    image: np.ndarray  # (28, 28) uint8
    label: int
    student: str
    session: str = ""  # the browser session of a drawing by nobody named; "" for a named student's


_read: dict[str, Drawing] = {}  # file path -> its drawing, read once: a drawing's file never changes
_read_lock = threading.Lock()


class ClassDigits:
    """Add, list and delete the class's drawings in one folder (by default ``<models folder>/class-digits``).

    Any number of these, in any number of processes, may share one folder.
    """

    def __init__(self, folder: str | os.PathLike | None = None):
        self.folder = Path(folder).expanduser() if folder is not None else ModelStore().folder / FOLDER_NAME

    def add(self, image: np.ndarray, label: int, student: str = "", session: str = "") -> Drawing:
        """Save one drawing; atomic, and never overwrites another.

        image : (28, 28), uint8 0-255 or floats in [0, 1] (as core.drawing.preprocess.canvas_to_mnist gives it).
        label : the digit the student meant, 0-9.
        student : the author's name (core.classroom.check_student_name); "" for nobody named.
        session : for nobody named, who drew it: their browser session (any short id), so that each unnamed student
            has caps of their own; ignored for a named student.
        Raises ValueError naming the bad parameter, and ClassDigitsFull when the author already has
        MAX_PER_STUDENT drawings here, or MAX_PER_LABEL of this digit, or the set holds MAX_DRAWINGS.
        """
        pixels = _checked_image(image)
        label = _checked_label(label)
        try:
            student = check_student_name(student)
        except ValueError as error:
            raise ValueError(f"student: {error}") from None
        session = "" if student else _checked_session(session)
        drawings = self.load()
        author = student or f"session {session}"
        authors = drawings.authors()
        who = student or "You"
        what_now = "The teacher can remove drawings on the Models page."
        if len(drawings) >= MAX_DRAWINGS:
            raise ClassDigitsFull(f"The class set is full: it holds {len(drawings):,} drawings, the most it keeps. "
                                  f"{what_now}")
        if authors.count(author) >= MAX_PER_STUDENT:
            raise ClassDigitsFull(
                f"{who} already {'has' if student else 'have'} {MAX_PER_STUDENT} drawings in the class set, the most "
                f"one student may add. {what_now}"
            )
        if sum(1 for other, other_label in zip(authors, drawings.labels) if other == author and other_label == label) \
                >= MAX_PER_LABEL:
            raise ClassDigitsFull(
                f"{who} already {'has' if student else 'have'} {MAX_PER_LABEL} drawings of a {label} in the class set, "
                f"the most one student may add of one digit: draw another digit. {what_now}"
            )
        from PIL import Image, PngImagePlugin

        text = PngImagePlugin.PngInfo()
        text.add_text("label", str(label))
        text.add_text("student", student)
        if session:
            text.add_text("session", session)
        drawing_id = f"{time.time_ns():020d}-{uuid.uuid4().hex}"
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".", suffix=SUFFIX, dir=self.folder)
        try:
            with os.fdopen(handle, "wb") as file:
                Image.fromarray(pixels, mode="L").save(file, format="PNG", pnginfo=text)
            os.replace(temporary, self.folder / f"{drawing_id}{SUFFIX}")
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)
        return Drawing(drawing_id, pixels, label, student, session)

    def load(self) -> ClassSet:
        """Every readable drawing in the folder, oldest first; unreadable files are skipped and named."""
        names = self._names()
        drawings, skipped = [], []
        for name in names:
            drawing = _read_drawing(self.folder / name)
            if drawing is None:
                skipped.append(name)
            else:
                drawings.append(drawing)
        images = (np.stack([drawing.image for drawing in drawings]) if drawings
                  else np.zeros((0, IMAGE_SIDE, IMAGE_SIDE), np.uint8))  # (N, 28, 28)
        return ClassSet(images, np.array([drawing.label for drawing in drawings], np.uint8),
                        tuple(drawing.student for drawing in drawings), tuple(drawing.id for drawing in drawings),
                        tuple(skipped), tuple(drawing.session for drawing in drawings))

    def count(self) -> int:
        """How many drawing files the folder holds, without reading them (for a label shown on every rerun)."""
        return len(self._names())

    def delete(self, drawing_id: str, by: str | None = None) -> None:
        """Delete one drawing. by : the student asking, who may delete only their own; None for the teacher.

        Raises ValueError when there is no such drawing or it belongs to someone else.
        """
        path = self.folder / f"{drawing_id}{SUFFIX}"
        drawing = _read_drawing(path) if _ID.match(str(drawing_id)) else None
        if drawing is None:
            raise ValueError(f"drawing_id: no drawing {drawing_id!r} in {self.folder}")
        if by is not None and drawing.student != by:
            raise ValueError(f"drawing_id: {drawing_id!r} is {drawing.student or 'nobody named'}'s drawing; "
                             "only they or the teacher can delete it")
        path.unlink(missing_ok=True)
        with _read_lock:
            _read.pop(str(path), None)

    def delete_student(self, student: str) -> int:
        """Delete every drawing by ``student`` ("" for every drawing by nobody named): the teacher's "Remove
        these drawings". Returns how many went."""
        drawings = self.load()
        gone = [drawing_id for drawing_id, author in zip(drawings.ids, drawings.students) if author == student]
        for drawing_id in gone:
            path = self.folder / f"{drawing_id}{SUFFIX}"
            path.unlink(missing_ok=True)  # another server may remove it at the same time
            with _read_lock:
                _read.pop(str(path), None)
        return len(gone)

    def clear(self) -> int:
        """Delete every drawing (the teacher's "Clear the class's handwriting"); returns how many went."""
        names = self._names()
        for name in names:
            (self.folder / name).unlink(missing_ok=True)  # another server may clear at the same time
            with _read_lock:
                _read.pop(str(self.folder / name), None)
        return len(names)

    def _names(self) -> list[str]:
        """The drawings' file names, oldest first (a save in progress has a hidden name)."""
        try:
            with os.scandir(self.folder) as entries:
                return sorted(entry.name for entry in entries
                              if entry.name.endswith(SUFFIX) and not entry.name.startswith("."))
        except FileNotFoundError:
            return []


def with_class_digits(data: MnistData, drawings: ClassSet) -> MnistData:
    """``data`` with ``drawings`` in front of its training digits; ``data`` itself when there are none.

    In front, because a validation split holds out the last training digits (core.training): the
    class's drawings are always trained on. Training shuffles every epoch, so their place changes
    nothing else. The data's description says they are there (and is saved with the model).
    """
    if not len(drawings):
        return data
    return MnistData(
        np.concatenate([drawings.images, data.x_train]), np.concatenate([drawings.labels, data.y_train]),
        data.x_test, data.y_test, source=f"{data.source} and the class's handwriting ({count_text(len(drawings))})",
        is_sample=data.is_sample,
    )


def class_set_npz(drawings: ClassSet) -> bytes:
    """The class set as the lecture's npz (X_train, y_train, X_test, y_test; ``ClassSet.as_data_set``), which
    the Digits page and ``np.load('mnist_data.npz')`` read like MNIST's own."""
    return npz_bytes(drawings.as_data_set())


def class_set_idx_zip(drawings: ClassSet, when: datetime) -> bytes:
    """The class set as MNIST's four IDX files and a README (``class_set_readme``) in one zip."""
    data = drawings.as_data_set()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(README_NAME, class_set_readme(drawings, when))
        for name, content in idx_files(data).items():
            archive.writestr(name, content)
    return buffer.getvalue()


def class_set_readme(drawings: ClassSet, when: datetime) -> str:
    """What the downloaded set holds: digits per label (train and test), how many people drew them as counts
    only (never their names), and when it was taken."""
    test = drawings.test_mask()
    rows = []
    for digit in range(NUM_CLASSES):
        of_digit = drawings.labels == digit
        rows.append(f"  {digit}: {int(of_digit.sum()):>5}  (train {int((of_digit & ~test).sum())}, "
                    f"test {int((of_digit & test).sum())})")
    per_student = drawings.per_student()
    named = sorted((count for student, count in per_student.items() if student), reverse=True)
    people = [f"{len(named)} student{'s' if len(named) != 1 else ''} ({_listed(named)} drawings)"] if named else []
    if per_student.get("", 0):
        people.append(f"{count_text(per_student[''])} by nobody named")
    files = "\n".join(f"  {name}" for name in IDX_FILES.values())
    return (
        "The class's handwriting, from the MNIST classroom\n"
        f"Taken on {when.strftime('%Y-%m-%d %H:%M %Z').strip()}.\n\n"
        f"{count_text(len(drawings))}, saved on the Draw page: each the 28x28 picture the model saw\n"
        "(a white digit on black, 0-255) and the digit its author meant.\n"
        f"Every fifth drawing of each digit is a test digit: train {int((~test).sum()):,}, "
        f"test {int(test.sum()):,}.\n\n"
        "Digits per label:\n" + "\n".join(rows) + "\n\n"
        f"Drawn by {'; '.join(people)}.\n\n"
        "Files, in MNIST's IDX format (yann.lecun.com/exdb/mnist): images and labels, train then test\n"
        f"{files}\n"
    )


def _listed(counts: list[int]) -> str:
    """[40, 22, 15] -> '40, 22 and 15'."""
    words = [f"{count:,}" for count in counts]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def count_text(count: int) -> str:
    """'1 drawing', '1,234 drawings'."""
    return f"{count:,} drawing{'' if count == 1 else 's'}"


def _read_drawing(path: Path) -> Drawing | None:
    """The drawing in ``path``, read once per process; None for a file that is not one."""
    key = str(path)
    with _read_lock:
        if key in _read:
            return _read[key]
    from PIL import Image

    try:
        with Image.open(path) as picture:
            if picture.size != (IMAGE_SIDE, IMAGE_SIDE):  # from the header: a crafted huge picture is never decoded
                return None
            picture.load()
            text = getattr(picture, "text", {})
            pixels = np.asarray(picture)
            student = check_student_name(text.get("student", ""))
            drawing = Drawing(path.stem, _checked_image(pixels), _checked_label(int(text["label"])), student,
                              "" if student else _checked_session(text.get("session", "")))
    # PIL raises SyntaxError for some broken PNGs, and DecompressionBombError for one declaring a huge size.
    except (OSError, SyntaxError, KeyError, ValueError, Image.DecompressionBombError):
        return None
    with _read_lock:
        _read[key] = drawing
    return drawing


def _checked_image(image) -> np.ndarray:
    """(28, 28) uint8, from uint8 or floats in [0, 1]; ValueError naming ``image`` otherwise."""
    pixels = np.asarray(image)
    if pixels.shape != (IMAGE_SIDE, IMAGE_SIDE):
        raise ValueError(f"image must be 28×28 pixels, got shape {pixels.shape}; pass the digit the model saw")
    if pixels.dtype != np.uint8:
        if not np.issubdtype(pixels.dtype, np.floating):
            raise ValueError(f"image must be uint8 0-255 or floats in [0, 1], got {pixels.dtype}")
        if not np.all(np.isfinite(pixels)) or pixels.min() < 0 or pixels.max() > 1:
            raise ValueError(f"image must be floats in [0, 1] (or uint8 0-255), got values from "
                             f"{pixels.min()} to {pixels.max()}")
        pixels = np.rint(pixels * 255).astype(np.uint8)
    if not pixels.any():
        raise ValueError("image is blank: draw a digit first")
    return pixels


def _checked_session(session) -> str:
    """A browser session's id as a drawing keeps it: up to 64 letters, digits, '-' or '_'; ValueError otherwise."""
    session = str(session)
    if len(session) > 64 or not all(character.isascii() and (character.isalnum() or character in "-_")
                                    for character in session):
        raise ValueError(f"session must be up to 64 letters, digits, '-' or '_', got {session[:70]!r}")
    return session


def _checked_label(label) -> int:
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label < NUM_CLASSES:
        raise ValueError(f"label must be a digit from 0 to 9 (the digit the student meant), got {label!r}")
    return int(label)
