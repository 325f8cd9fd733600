"""core.classroom.class_set: the class's drawings, one atomic file each, shared by every store on the folder."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from core.classroom import class_set as handwriting
from core.classroom.class_set import FOLDER_NAME, ClassDigits, ClassDigitsFull, with_class_digits
from helpers.digits import make_digits, make_tiny_data


def a_digit(label: int = 3) -> np.ndarray:
    """(28, 28) floats in [0, 1], as the Draw page's model sees a drawing."""
    images, _ = make_digits(10, seed=label)
    return images[label].astype(np.float32) / 255


def test_a_drawing_is_kept_as_the_image_the_model_saw_with_its_label_and_student(tmp_path):
    digit = a_digit()
    saved = ClassDigits(tmp_path).add(digit, 3, "Ada")
    drawings = ClassDigits(tmp_path).load()  # a new object on the folder: as after a restart
    assert len(drawings) == 1 and drawings.ids == (saved.id,)
    assert drawings.images.shape == (1, 28, 28) and drawings.images.dtype == np.uint8
    assert np.abs(drawings.images[0] / 255 - digit).max() <= 0.5 / 255  # 8 bits, as the training digits
    assert drawings.labels.tolist() == [3] and drawings.students == ("Ada",)
    assert [path.name for path in tmp_path.iterdir()] == [f"{saved.id}.png"]  # no temporary file left


def test_the_set_lives_beside_the_models_and_uint8_images_are_kept_as_they_are(private_models_dir):
    image = (a_digit(7) * 255).astype(np.uint8)
    ClassDigits().add(image, 7)
    assert ClassDigits().folder == private_models_dir / FOLDER_NAME
    drawings = ClassDigits(private_models_dir / FOLDER_NAME).load()
    assert np.array_equal(drawings.images[0], image) and drawings.students == ("",)


def test_two_stores_on_one_folder_add_without_overwriting_and_list_oldest_first(tmp_path):
    first, second = ClassDigits(tmp_path), ClassDigits(tmp_path)
    for index in range(6):
        (first if index % 2 else second).add(a_digit(index), index, f"student {index % 3}")
    for store in (first, second):
        drawings = store.load()
        assert drawings.labels.tolist() == list(range(6))
        assert drawings.per_student() == {"student 0": 2, "student 1": 2, "student 2": 2}
        assert store.count() == 6


def test_a_student_over_the_cap_is_refused_with_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(handwriting, "MAX_PER_STUDENT", 3)
    store = ClassDigits(tmp_path)
    for _ in range(3):
        store.add(a_digit(), 3, "Ada")
    with pytest.raises(ClassDigitsFull, match=r"Ada already has 3 drawings.*The teacher can remove drawings on the"):
        store.add(a_digit(), 3, "Ada")
    with pytest.raises(ValueError, match="already has 3"):  # ClassDigitsFull is a ValueError, for the pages
        ClassDigits(tmp_path).add(a_digit(), 3, "Ada")
    store.add(a_digit(), 3, "Grace")  # the cap is per student
    assert store.load().per_student() == {"Ada": 3, "Grace": 1}


def test_students_without_a_name_are_counted_each_by_their_session(tmp_path, monkeypatch):
    """issue 22: after 200 unnamed drawings, every unnamed student was refused."""
    monkeypatch.setattr(handwriting, "MAX_PER_STUDENT", 3)
    store = ClassDigits(tmp_path)
    for label in range(3):
        store.add(a_digit(label), label, session="tab-1")
    with pytest.raises(ClassDigitsFull, match="You already have 3 drawings in the class set"):
        store.add(a_digit(), 3, session="tab-1")
    store.add(a_digit(), 3, session="tab-2")  # another unnamed student has a cap of their own
    drawings = ClassDigits(tmp_path).load()  # the session is kept in the file
    assert drawings.students == ("",) * 4 and drawings.sessions == ("tab-1",) * 3 + ("tab-2",)
    assert drawings.per_student() == {"": 4}
    with pytest.raises(ValueError, match="session must be up to 64 letters"):
        store.add(a_digit(), 3, session="../../x")


def test_one_student_adds_at_most_30_of_one_digit_and_the_set_at_most_6000(tmp_path, monkeypatch):
    """issue 22: 8,000 drawings of a "1" labelled 7 under 40 names lowered a model's test accuracy."""
    store = ClassDigits(tmp_path)
    for _ in range(handwriting.MAX_PER_LABEL):
        store.add(a_digit(1), 7, "Mallory")
    with pytest.raises(ClassDigitsFull, match="Mallory already has 30 drawings of a 7 .* draw another digit"):
        store.add(a_digit(1), 7, "Mallory")
    store.add(a_digit(1), 1, "Mallory")  # another digit
    store.add(a_digit(1), 7, "Ada")  # another student
    monkeypatch.setattr(handwriting, "MAX_DRAWINGS", 32)
    with pytest.raises(ClassDigitsFull, match="The class set is full: it holds 32 drawings, the most it keeps"):
        store.add(a_digit(2), 2, "Grace")


def test_the_teacher_removes_one_students_drawings(tmp_path):
    store = ClassDigits(tmp_path)
    for label, student in ((1, "Mallory"), (2, "Ada"), (3, "Mallory"), (4, "")):
        store.add(a_digit(label), label, student, session="tab-9")
    assert store.delete_student("Mallory") == 2
    assert ClassDigits(tmp_path).load().per_student() == {"Ada": 1, "": 1}
    assert store.delete_student("") == 1 and store.load().students == ("Ada",)


@pytest.mark.parametrize("image, label, student, named", [
    (np.zeros((28, 28), np.float32), 3, "", "image is blank"),
    (np.ones((20, 20), np.float32), 3, "", "image must be 28×28"),
    (np.full((28, 28), 2.0), 3, "", "image must be floats in"),
    (np.full((28, 28), np.nan), 3, "", "image must be floats in"),
    (np.ones((28, 28), np.int64), 3, "", "image must be uint8"),
    (None, 10, "", "label must be a digit"),
    (None, 2.0, "", "label must be a digit"),
    (None, True, "", "label must be a digit"),
    (None, 3, "<script>", "student:"),
])
def test_bad_input_is_a_value_error_naming_the_parameter_and_nothing_is_written(
        tmp_path, image, label, student, named):
    with pytest.raises(ValueError, match=named):
        ClassDigits(tmp_path).add(a_digit() if image is None else image, label, student)
    assert not tmp_path.exists() or not list(tmp_path.iterdir())


def test_unreadable_files_and_saves_in_progress_are_skipped(tmp_path):
    store = ClassDigits(tmp_path)
    store.add(a_digit(), 3, "Ada")
    (tmp_path / "00000000000000000001-broken.png").write_bytes(b"not a png")
    (tmp_path / ".in-progress.png").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("the teacher's notes")
    # A PNG declaring 40,000 x 40,000 pixels (a few hundred bytes): skipped from its header, never decoded.
    header = struct.pack(">IIBBBBB", 40_000, 40_000, 8, 0, 0, 0, 0)
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    (tmp_path / "00000000000000000002-huge.png").write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(64))) + chunk(b"IEND", b""))
    drawings = store.load()
    assert drawings.labels.tolist() == [3]
    assert drawings.skipped == ("00000000000000000001-broken.png", "00000000000000000002-huge.png")
    assert ClassDigits(tmp_path / "missing").load().images.shape == (0, 28, 28)


def test_a_student_deletes_only_their_own_drawings(tmp_path):
    store = ClassDigits(tmp_path)
    ada, grace = store.add(a_digit(), 3, "Ada"), store.add(a_digit(), 3, "Grace")
    with pytest.raises(ValueError, match="Grace's drawing"):
        store.delete(grace.id, by="Ada")
    store.delete(ada.id, by="Ada")
    with pytest.raises(ValueError, match="drawing_id: no drawing"):
        store.delete(ada.id, by="Ada")
    with pytest.raises(ValueError, match="drawing_id: no drawing"):
        store.delete("../../models/lecture", by=None)
    store.delete(grace.id, by=None)  # the teacher
    assert len(store.load()) == 0


def test_the_teacher_clears_every_drawing(tmp_path):
    store = ClassDigits(tmp_path)
    for student in ("Ada", "Grace", ""):
        store.add(make_digits(1)[0][0], 4, student=student)
    assert store.clear() == 3
    assert len(store.load()) == 0 and store.count() == 0
    assert store.clear() == 0


def test_with_class_digits_puts_the_drawings_first_and_says_so():
    data = make_tiny_data()
    images, labels = make_digits(4, seed=9)
    drawings = handwriting.ClassSet(images, labels, ("Ada",) * 4, tuple(f"id{index}" for index in range(4)))
    combined = with_class_digits(data, drawings)
    assert np.array_equal(combined.x_train[:4], images) and np.array_equal(combined.x_train[4:], data.x_train)
    assert np.array_equal(combined.y_train, np.concatenate([labels, data.y_train]))
    assert combined.x_test is data.x_test
    assert combined.description == "304 train / 100 test digits from synthetic test digits and the class's " \
                                   "handwriting (4 drawings)"
    assert with_class_digits(data, ClassDigits("/nonexistent").load()) is data


def test_the_drawings_as_test_digits_are_measured_by_core_evaluate(tiny_result):
    from core.evaluation.evaluate import evaluate
    from core.evaluation.metrics import evaluate_accuracy

    images, labels = make_digits(20, seed=5)
    labels[:3] = (labels[:3] + 1) % 10  # three drawings meant as another digit than they show
    drawings = handwriting.ClassSet(images, labels, ("",) * 20, tuple(str(index) for index in range(20)))
    measured = evaluate(tiny_result.model, drawings.as_test_data(), measure_train=False)
    assert measured.test_accuracy == evaluate_accuracy(tiny_result.model, images, labels) <= 17 / 20
