"""Builders of test data: learnable fake digits, data files in the lecture's formats, and drawings."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from core.data.mnist import MnistData


def make_digits(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Learnable fake digits: class k is a bright bar at row 4 + 2k, plus noise.

    Returns uint8 images (count, 28, 28) and uint8 labels (count,), every class present.
    """
    rng = np.random.default_rng(seed)
    labels = (np.arange(count) % 10).astype(np.uint8)
    rng.shuffle(labels)
    images = rng.integers(0, 40, size=(count, 28, 28)).astype(np.uint8)
    for index, label in enumerate(labels):
        row = 4 + 2 * int(label)
        images[index, row: row + 2, 4:24] = 255
    return images, labels


def make_tiny_data(train: int = 300, test: int = 100) -> MnistData:
    x_train, y_train = make_digits(train, seed=1)
    x_test, y_test = make_digits(test, seed=2)
    return MnistData(x_train, y_train, x_test, y_test, source="synthetic test digits")


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file: 0, 0, type 0x08 (unsigned bytes), ndim, big-endian uint32 sizes, then the bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(size.to_bytes(4, "big") for size in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def npz_bytes(data: MnistData) -> bytes:
    """``data`` as an npz file in the lecture's format (X_train, y_train, X_test, y_test)."""
    buffer = io.BytesIO()
    np.savez(buffer, X_train=data.x_train, y_train=data.y_train, X_test=data.x_test, y_test=data.y_test)
    return buffer.getvalue()


def blank_npz(train: int, test: int, pixel_type: str = "|u1") -> bytes:
    """An npz of blank digits (every pixel and label 0), ``train`` and ``test`` of them, made in a fraction of a
    second whatever its size: each deflated member repeats one compressed mebibyte of zeros (a valid stream), with
    the true CRC-32 and sizes. 980,000 digits, 768 MB unpacked, are a file of about 760 kB, as
    np.savez_compressed writes them."""
    mebibyte = 2**20
    zeros = bytes(mebibyte)
    body, directory = io.BytesIO(), []
    for name, shape, kind in (("X_train", (train, 28, 28), pixel_type), ("y_train", (train,), "|u1"),
                              ("X_test", (test, 28, 28), pixel_type), ("y_test", (test,), "|u1")):
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": kind, "fortran_order": False, "shape": shape})
        header = header.getvalue()
        size = int(np.prod(shape)) * np.dtype(kind).itemsize
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        head = compressor.compress(header) + compressor.flush(zlib.Z_FULL_FLUSH)
        block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
        payload = (head + block * (size // mebibyte) + compressor.compress(bytes(size % mebibyte))
                   + compressor.flush())
        crc = zlib.crc32(header)
        for _ in range(size // mebibyte):
            crc = zlib.crc32(zeros, crc)
        crc = zlib.crc32(bytes(size % mebibyte), crc)
        encoded, unpacked = f"{name}.npy".encode(), len(header) + size
        directory.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(payload), unpacked,
                                     len(encoded), 0, 0, 0, 0, 0, body.tell()) + encoded)
        body.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(payload), unpacked, len(encoded), 0)
                   + encoded + payload)
    table = b"".join(directory)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 4, 4, len(table), body.tell(), 0)
    return body.getvalue() + table + end


def ring_digit(radius: float = 7.0, width: float = 3.0) -> np.ndarray:
    """A (28, 28) float32 'zero' in [0, 1]: a ring around the centre, ``width`` pixels wide with soft edges."""
    rows, cols = np.indices((28, 28)) - 13.5
    return np.clip(width / 2 - np.abs(np.hypot(rows, cols) - radius), 0, 1).astype(np.float32)


def centre_of_mass(images: np.ndarray) -> np.ndarray:
    """(row, col) of the ink's centre: (28, 28) -> (2,), (N, 28, 28) -> (N, 2)."""
    rows, cols = np.indices(images.shape[-2:])
    total = images.sum(axis=(-2, -1))
    return np.stack([(images * rows).sum(axis=(-2, -1)) / total, (images * cols).sum(axis=(-2, -1)) / total],
                    axis=-1)


def aligned_correlation(first: np.ndarray, second: np.ndarray, shift: int = 1) -> float:
    """Correlation of two (28, 28) digits at the best whole-pixel shift of up to ``shift`` pixels each way.

    Centring shifts by whole pixels, so the same digit can land a pixel or two apart.
    """
    return max(
        np.corrcoef(first.ravel(), np.roll(second, (rows, cols), axis=(0, 1)).ravel())[0, 1]
        for rows in range(-shift, shift + 1) for cols in range(-shift, shift + 1)
    )


SEVEN = ((70, 60), (210, 60), (120, 230))  # a '7' on the 280x280 canvas: the bar, then down to the lower left


def stroke_canvas(strokes=SEVEN) -> np.ndarray:
    """(280, 280, 4) uint8 RGBA: white ``strokes`` (one polyline; none for a blank pad) drawn with an 18-pixel pen
    on black, as a drawing pad's picture."""
    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    if strokes:
        ImageDraw.Draw(canvas).line(list(strokes), fill=(255, 255, 255, 255), width=18, joint="curve")
    return np.asarray(canvas)


def seven_canvas() -> np.ndarray:
    """The 7 (SEVEN) as a drawing pad's picture."""
    return stroke_canvas(SEVEN)


def draw_png(path: Path, strokes=SEVEN) -> Path:
    """``stroke_canvas(strokes)`` saved as a PNG at ``path``, as a student would save a drawing."""
    Image.fromarray(stroke_canvas(strokes)).save(path)
    return path
