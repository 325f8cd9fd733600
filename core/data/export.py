"""Digits written as files in MNIST's own formats, the ones core.data.mnist reads back: an npz with the lecture's
keys (X_train, y_train, X_test, y_test), and the four IDX files of the original distribution."""

from __future__ import annotations

import io

import numpy as np

from core.data.mnist import MnistData

# The four IDX files by role, named as in the original distribution (and as core.data.mnist looks for them).
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def npz_bytes(data: MnistData) -> bytes:
    """``data`` as the lecture's npz: uint8 X_train (N, 28, 28), y_train (N,), X_test, y_test; compressed
    with numpy's own deflate (np.savez_compressed), which np.load and core.data read."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, X_train=data.x_train, y_train=data.y_train, X_test=data.x_test, y_test=data.y_test)
    return buffer.getvalue()


def idx_bytes(array: np.ndarray) -> bytes:
    """One IDX file of unsigned bytes: two zero bytes, type 0x08, the number of dimensions, each size as a
    big-endian 32-bit number, then the bytes row by row (LeCun's format)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(size).to_bytes(4, "big") for size in array.shape)
    return header + array.tobytes()


def idx_files(data: MnistData) -> dict[str, bytes]:
    """File name -> bytes of the four IDX files of ``data``."""
    return {name: idx_bytes(getattr(data, split)) for split, name in IDX_FILES.items()}
