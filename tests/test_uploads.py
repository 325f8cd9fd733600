"""core.uploads: uploaded bytes become a data set, or a message that names the uploaded file."""

import gzip
import io

import numpy as np
import pytest

from core.data import DataError
from core.uploads import IDX_FOLDER, load_upload


def npz_bytes(data) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, X_train=data.x_train, y_train=data.y_train, X_test=data.x_test, y_test=data.y_test)
    return buffer.getvalue()


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX format: two zero bytes, 0x08 (unsigned bytes), the number of dimensions, big-endian sizes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(size.to_bytes(4, "big") for size in array.shape)
    return header + array.astype(np.uint8).tobytes()


def idx_files(data, compress: bool) -> list[tuple[str, bytes]]:
    files = [
        ("train-images-idx3-ubyte", idx_bytes(data.x_train)), ("train-labels-idx1-ubyte", idx_bytes(data.y_train)),
        ("t10k-images-idx3-ubyte", idx_bytes(data.x_test)), ("t10k-labels-idx1-ubyte", idx_bytes(data.y_test)),
    ]
    return [(name + ".gz", gzip.compress(content)) for name, content in files] if compress else files


def test_an_npz_upload_is_read_like_a_file(tiny_data):
    data = load_upload([("my digits.npz", npz_bytes(tiny_data))])
    np.testing.assert_array_equal(data.x_train, tiny_data.x_train)
    np.testing.assert_array_equal(data.y_test, tiny_data.y_test)
    assert data.source == "my digits.npz" and not data.is_sample


@pytest.mark.parametrize("compress", [False, True])
def test_the_four_idx_files_are_read_together(tiny_data, compress):
    data = load_upload(idx_files(tiny_data, compress))
    np.testing.assert_array_equal(data.x_test, tiny_data.x_test)
    np.testing.assert_array_equal(data.y_train, tiny_data.y_train)
    assert IDX_FOLDER in data.source


def test_a_broken_file_is_named_without_the_temporary_folder():
    with pytest.raises(DataError) as caught:
        load_upload([("digits.npz", b"this is not a zip archive")])
    message = str(caught.value)
    assert message.startswith("digits.npz: ")
    assert "mnist-upload-" not in message


def test_one_idx_file_alone_asks_for_all_four(tiny_data):
    with pytest.raises(DataError, match="all four MNIST IDX files") as caught:
        load_upload(idx_files(tiny_data, compress=False)[:1])
    assert str(caught.value).startswith(IDX_FOLDER)


def test_a_browser_path_in_a_name_is_dropped(tiny_data):
    data = load_upload([("../../etc/digits.npz", npz_bytes(tiny_data))])
    assert data.source == "digits.npz"


def test_nothing_uploaded_says_what_to_upload():
    with pytest.raises(DataError, match="choose one .npz file"):
        load_upload([])


def test_the_same_name_twice_is_refused(tiny_data):
    content = npz_bytes(tiny_data)
    with pytest.raises(DataError, match="same name"):
        load_upload([("a.npz", content), ("a.npz", content)])
