"""The class's handwriting taken home: MNIST's npz (the lecture's keys) and the four IDX files with a README, both
read back by core.data exactly as saved, naming no student."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timezone

import numpy as np
import pytest

from core.classroom.class_set import ClassDigits, class_set_idx_zip, class_set_npz, class_set_readme
from core.data.uploads import load_upload
from helpers.digits import make_digits

WHEN = datetime(2025, 3, 14, 9, 26, tzinfo=timezone.utc)


@pytest.fixture
def drawings(tmp_path):
    """23 drawings: 3 of digits 0-2 and 2 of the others, by Ada (9), Bo (6) and nobody named (8), oldest first."""
    images, _ = make_digits(23, seed=5)
    store = ClassDigits(tmp_path / "class-digits")
    for index in range(23):
        store.add(np.maximum(images[index], 1), index % 10, ["Ada", "Bo", ""][index % 3] if index < 18 else
                  ("Ada" if index < 21 else ""))
    return store.load()


def test_the_npz_has_the_lectures_keys_and_reads_back_as_the_drawings(drawings):
    content = class_set_npz(drawings)
    with np.load(io.BytesIO(content), allow_pickle=False) as arrays:
        assert sorted(arrays.files) == ["X_test", "X_train", "y_test", "y_train"]
        assert arrays["X_train"].dtype == np.uint8 and arrays["X_train"].shape[1:] == (28, 28)
    data = load_upload([("class-digits.npz", content)])
    test = drawings.test_mask()
    assert np.array_equal(data.x_train, drawings.images[~test]) and np.array_equal(data.y_test, drawings.labels[test])
    assert len(data.x_train) + len(data.x_test) == len(drawings) == 23


def test_every_fifth_drawing_of_a_digit_is_a_test_digit_and_both_parts_have_some(drawings, tmp_path):
    store = ClassDigits(tmp_path / "fives")
    images, _ = make_digits(12, seed=1)
    for index in range(12):
        store.add(np.maximum(images[index], 1), 4)  # twelve 4s: the 5th and the 10th are test digits
    assert np.flatnonzero(store.load().test_mask()).tolist() == [4, 9]
    assert drawings.test_mask().sum() == 1  # fewer than five of every digit: the newest one


def test_the_idx_zip_holds_the_four_files_and_a_readme_naming_nobody(drawings):
    archive = zipfile.ZipFile(io.BytesIO(class_set_idx_zip(drawings, WHEN)))
    names = archive.namelist()
    assert names == ["README.txt", "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                     "t10k-labels-idx1-ubyte"]
    from_idx = load_upload([(name, archive.read(name)) for name in names[1:]])
    from_npz = load_upload([("class-digits.npz", class_set_npz(drawings))])
    assert np.array_equal(from_idx.x_train, from_npz.x_train) and np.array_equal(from_idx.y_test, from_npz.y_test)
    readme = archive.read("README.txt").decode()
    assert readme == class_set_readme(drawings, WHEN)
    assert "Taken on 2025-03-14 09:26 UTC." in readme
    assert "  0:     3  (train 3, test 0)" in readme and "  2:     3  (train 2, test 1)" in readme  # the newest
    assert "Drawn by 2 students (9 and 6 drawings); 8 drawings by nobody named." in readme
    assert "Ada" not in readme and "Bo" not in readme


def test_fewer_than_two_drawings_make_no_data_set(tmp_path):
    store = ClassDigits(tmp_path)
    images, _ = make_digits(1)
    store.add(np.maximum(images[0], 1), 3, "Ada")
    with pytest.raises(ValueError, match="holds 1 drawing: a data set needs at least 2"):
        class_set_npz(store.load())
