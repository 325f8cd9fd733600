"""core.data.uploads: uploaded bytes become a data set, or a message that names the uploaded file."""

import gzip
import tempfile

import numpy as np
import pytest

from core.data.mnist import DataError
from core.data.uploads import IDX_FOLDER, MAX_NAME_BYTES, load_upload
from helpers.apptest import open_page, texts
from helpers.digits import idx_bytes, npz_bytes

# Names a browser can send that cannot name a file: each must get a message, never an error.
UNUSABLE_NAMES = {
    "dot-dot": "..",
    "dot": ".",
    "NUL": "digits\x00.npz",
    "slash": "digits/",
    "300 bytes": "d" * 296 + ".npz",
    "line break": "dig\nits.npz",
}


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


@pytest.mark.parametrize("case", list(UNUSABLE_NAMES))
def test_a_name_that_cannot_name_a_file_gets_a_message(tiny_data, case):
    with pytest.raises(DataError, match="Rename the file") as caught:
        load_upload([(UNUSABLE_NAMES[case], npz_bytes(tiny_data))])
    assert "mnist-upload-" not in str(caught.value)


def test_the_longest_usable_name_is_kept(tiny_data):
    name = "d" * (MAX_NAME_BYTES - 4) + ".npz"
    assert load_upload([(name, npz_bytes(tiny_data))]).source == name


def test_the_digits_page_shows_a_message_for_every_unusable_name(tiny_npz):
    """Through dashboard.session.use_upload, as a browser sends them: a message each, no error box, and the
    server's temporary folder never shown."""
    at = open_page("digits")
    for name in UNUSABLE_NAMES.values():
        at.file_uploader[0].set_value((name, b"any content", "application/octet-stream"))
        at.run()
        assert not at.exception, (name, at.exception)
        message = " ".join(texts(at.error))
        assert "cannot be used" in message and "have not changed" in message, (name, message)
        assert "mnist-upload-" not in message and "/tmp" not in message, (name, message)


def test_a_server_that_cannot_keep_the_upload_says_so(tiny_data, tmp_path, monkeypatch):
    """A temporary folder that cannot be made (here a file stands where it should be): a message, no path."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setattr(tempfile, "tempdir", str(blocker))
    with pytest.raises(DataError, match="could not keep the upload") as caught:
        load_upload([("digits.npz", npz_bytes(tiny_data))])
    assert str(blocker) not in str(caught.value)
