"""core.data.uploads: uploaded bytes become a data set, or a message that names the uploaded file."""

import gzip
import tempfile
import tracemalloc
import weakref

import numpy as np
import pytest

from core.data.mnist import DataError
from core.data.uploads import (
    IDX_FOLDER,
    MAX_NAME_BYTES,
    SERVER_MB_VARIABLE,
    SESSION_MB_VARIABLE,
    UploadPool,
    load_upload,
    server_pool,
)
from helpers.apptest import button, open_page, texts
from helpers.digits import blank_npz, idx_bytes, make_tiny_data, npz_bytes

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


# --- the server's pool of uploads (issue 22) --------------------------------------------------------------------

MB = 2**20


def test_an_upload_over_a_sessions_budget_is_refused_from_its_headers_before_it_is_inflated():
    """issue 22: a 760 kB npz of 980,000 blank digits took 750 MB of the server per session."""
    content = blank_npz(970_000, 10_000)
    assert len(content) < MB
    pool = UploadPool(session_bytes=256 * MB, server_bytes=1024 * MB)
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as refused:
            pool.hold("a session", [("zeros.npz", content)])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "These digits take 734 MB of the server's memory to read, more than the 256 MB one session" in str(
        refused.value) and SESSION_MB_VARIABLE in str(refused.value)
    assert peak < 10 * MB  # the headers, never the digits
    assert pool.held_bytes() == 0 and pool.holders() == []


def test_float_pixels_count_with_their_conversion_and_are_converted_in_blocks():
    """issue 22: an 820 kB float64 file peaked at 2.47 GB. Reading it now takes its floats and their uint8
    copy; converting them block by block adds no more than a block."""
    content = blank_npz(30_000, 1_000, "<f8")
    floats, kept = 31_000 * 784 * 8, 31_000 * 785
    pool = UploadPool(session_bytes=floats + kept)
    tracemalloc.start()
    try:
        data = pool.data(pool.hold("a session", [("floats.npz", content)]))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert data.x_train.dtype == np.uint8 and data.x_train.shape == (30_000, 28, 28)
    assert peak < floats + kept + 16 * MB
    with pytest.raises(DataError, match="one session may use"):
        UploadPool(session_bytes=floats + kept - 1).hold("another", [("floats.npz", content)])


def test_one_upload_in_three_sessions_is_held_once_and_freed_with_the_last(tiny_data):
    pool = UploadPool(session_bytes=10 * MB, server_bytes=10 * MB)
    files = [("digits.npz", npz_bytes(tiny_data))]
    keys = {pool.hold(session, files) for session in ("ada", "alan", "grace")}
    assert len(keys) == 1
    (key,) = keys
    size = pool.held_bytes()
    assert size == sum(array.nbytes for array in (tiny_data.x_train, tiny_data.y_train, tiny_data.x_test,
                                                  tiny_data.y_test))
    pixels = weakref.ref(pool.data(key).x_train)
    pool.release("ada")
    pool.release("alan")
    assert pool.data(key) is not None and pool.held_bytes() == size
    pool.release("grace")
    assert pool.data(key) is None and pool.held_bytes() == 0
    assert pixels() is None  # gone from memory, not only from the pool


def test_the_servers_budget_is_shared_and_frees_up_as_sessions_go():
    one = make_tiny_data(train=300, test=100)
    size = 400 * 785
    pool = UploadPool(session_bytes=10 * MB, server_bytes=3 * size)
    for index in range(3):
        pool.hold(f"session {index}", [(f"digits-{index}.npz", npz_bytes(one))])
    with pytest.raises(DataError, match="in use by other sessions") as refused:
        pool.hold("session 3", [("digits-3.npz", npz_bytes(one))])
    assert SERVER_MB_VARIABLE in str(refused.value)
    pool.hold("session 3", [("digits-0.npz", npz_bytes(one))])  # one already held costs nothing more
    pool.release("session 1")
    pool.hold("session 4", [("digits-4.npz", npz_bytes(one))])
    assert pool.held_bytes() == 3 * size


def test_a_sessions_new_upload_replaces_its_last_and_a_refused_one_keeps_it(tiny_data):
    pool = UploadPool(session_bytes=MB)
    first = pool.hold("ada", [("first.npz", npz_bytes(tiny_data))])
    with pytest.raises(DataError):
        pool.hold("ada", [("zeros.npz", blank_npz(10_000, 100))])
    assert pool.data(first) is not None
    second = pool.hold("ada", [("second.npz", npz_bytes(make_tiny_data(train=200)))])
    assert pool.data(first) is None and pool.data(second) is not None


def test_sessions_that_have_ended_let_their_uploads_go_after_the_grace_time(tiny_data):
    pool = UploadPool()
    key = pool.hold("gone", [("digits.npz", npz_bytes(tiny_data))])
    pool.hold("here", [("other.npz", npz_bytes(make_tiny_data(train=200)))])
    alive = {"here"}.__contains__
    assert pool.release_ended(alive, grace_seconds=120, now=1000.0) == []  # just gone: it may come back
    assert pool.release_ended(alive, grace_seconds=120, now=1119.0) == []
    assert pool.release_ended(alive, grace_seconds=120, now=1120.0) == ["gone"]
    assert pool.data(key) is None and pool.holders() == ["here"]


def test_two_sessions_of_the_digits_page_share_one_upload(tiny_npz, tiny_data):
    pages = [open_page("digits"), open_page("digits")]
    for at in pages:
        at.file_uploader[0].set_value(("mine.npz", npz_bytes(tiny_data), "application/octet-stream"))
        at.run()
        assert not at.exception and not at.error
    assert pages[0].session_state["uploaded_data"] == pages[1].session_state["uploaded_data"]
    key = pages[0].session_state["uploaded_data"]
    assert server_pool().data(key) is not None
    for at in pages:
        button(at, "Back to the default digits").click().run()
    assert server_pool().data(key) is None
