"""Fuzz: a few hundred malformed npz, IDX and PNG files, made from one seed, through every reader a student
can reach: core.data.load_file, core.data.uploads.load_upload, and `python -m core` train/predict.

Each must end in one DataError (in this process), or exit status 2 with one line on stderr, never a traceback,
and cost bounded memory. Bombs declare little and inflate to gigabytes (an npz member, a gzip IDX file, a
PNG's image data or text), or declare gigabytes in a few bytes (npy and IDX headers, a PNG's size).

Memory is measured two ways. In this process: tracemalloc's peak for each input, which counts what Python and
numpy allocate (the bytes zlib and gzip inflate, the arrays), not what C libraries keep for themselves (PIL's
pixels, zlib's 32 KiB window). For `python -m core`: the child's own peak resident memory (VmHWM, read by the
child as it exits), which counts everything, against a child that fails at once. Measured on Intel Xeon
(Sapphire Rapids), 2 cores: at most 0.5 MB traced for any npz or IDX input, and at most 7 MB above the 38 MB
of that child (the PNG whose text inflates to 1 GiB), for inputs that inflate to 2.5 GB. Before these checks
the same inputs took 2.3 to 3.6 GB each.
"""

from __future__ import annotations

import bz2
import gzip
import io
import math
import os
import re
import struct
import subprocess
import sys
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.data.mnist import DataError, MnistData, load_file
from core.data.uploads import load_upload
from helpers.digits import make_tiny_data, npz_bytes, seven_canvas
from helpers.paths import ROOT

SEED = 20261129  # the same inputs on every run
# What one bad input may cost, far above what any costs (see the module docstring) and far below the
# gigabytes the bombs inflate to.
MEMORY_LIMIT = 300 * 2**20
CHILD_SECONDS = 120  # a child still running by then is killed, and the test fails as a hang
IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
GIB = 2**30


# --- making the inputs ----------------------------------------------------------------------------


def npy(shape: tuple, descr: str = "|u1", data: bytes | None = None) -> bytes:
    """A .npy file: its header for ``shape`` and ``descr``, then ``data`` (default: zeros of the declared size)."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": descr, "fortran_order": False, "shape": shape})
    return header.getvalue() + (data if data is not None else bytes(math.prod(shape) * np.dtype(descr).itemsize))


def deflated_zeros(prefix: bytes, zeros: int, wbits: int) -> bytes:
    """``prefix`` then ``zeros`` zero bytes, compressed (wbits -15: raw deflate, as in a zip; 31: gzip; 15:
    zlib, as in a PNG) from one compressed MiB repeated: a thousandth of what it inflates to, made in
    milliseconds. The trailer's checksum is not right: a reader that gets that far has read it all."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    mebibyte = compressor.compress(bytes(2**20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return head + mebibyte * (zeros // 2**20) + compressor.compress(bytes(zeros % 2**20)) + compressor.flush()


def deflated(raw: bytes) -> tuple[bytes, int, int, int]:
    """A zip member for zip_of: ``raw`` deflated, with its true CRC and size."""
    return zlib.compress(raw)[2:-4], 8, zlib.crc32(raw), len(raw)


def zip_of(members: dict[str, tuple[bytes, int, int, int]]) -> bytes:
    """A zip written by hand, for what zipfile will not write: name -> (payload as stored, zip method,
    CRC-32, size the zip's directory declares once unpacked)."""
    body, directory = io.BytesIO(), []
    for name, (payload, method, crc, size) in members.items():
        encoded = name.encode()
        directory.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0, crc, len(payload), size,
                                     len(encoded), 0, 0, 0, 0, 0, body.tell()) + encoded)
        body.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0, crc, len(payload), size,
                               len(encoded), 0) + encoded + payload)
    table = b"".join(directory)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(table), body.tell(), 0)
    return body.getvalue() + table + end


def small_npz(**members: tuple[bytes, int, int, int]) -> bytes:
    """The four arrays of 60 + 20 tiny digits as deflated zip members, with ``members`` in place of some."""
    tiny = make_tiny_data(train=60, test=20)
    arrays = {"X_train": tiny.x_train, "y_train": tiny.y_train, "X_test": tiny.x_test, "y_test": tiny.y_test}
    plain = {key: deflated(npy(array.shape, array.dtype.str, array.tobytes())) for key, array in arrays.items()}
    return zip_of({f"{key}.npy": members.get(key, plain[key]) for key in arrays})


def npz_of(**overrides) -> bytes:
    """np.savez of the tiny digits with some arrays replaced: real arrays of a wrong type or shape."""
    tiny = make_tiny_data(train=60, test=20)
    arrays = {"X_train": tiny.x_train, "y_train": tiny.y_train, "X_test": tiny.x_test, "y_test": tiny.y_test}
    buffer = io.BytesIO()
    np.savez(buffer, **{**arrays, **overrides})
    return buffer.getvalue()


def idx(array: np.ndarray) -> bytes:
    return idx_header(*array.shape) + array.astype(np.uint8).tobytes()


def idx_header(*shape: int) -> bytes:
    return bytes([0, 0, 0x08, len(shape)]) + b"".join(size.to_bytes(4, "big") for size in shape)


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int, image_data: bytes = zlib.compress(bytes(64)), extra: bytes = b"") -> bytes:
    """A PNG whose header says ``width`` x ``height`` RGBA, whatever its image data holds."""
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + extra + chunk(b"IDAT", image_data)
            + chunk(b"IEND", b""))


def seven_png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(seven_canvas()).save(buffer, "PNG")
    return buffer.getvalue()


def mutations(rng: np.random.Generator, valid: bytes, count: int, prefix: str) -> list[tuple[str, bytes]]:
    """Random bytes, truncations and overwritten bytes of ``valid``: ``count`` of each."""
    cases = []
    for index in range(count):
        cases.append((f"{prefix} random bytes {index}", rng.bytes(int(rng.integers(0, 4096)))))
        cases.append((f"{prefix} cut {index}", valid[: int(rng.integers(0, len(valid)))]))
        damaged = bytearray(valid)
        start = int(rng.integers(0, len(valid)))
        length = int(rng.integers(1, 17))
        damaged[start: start + length] = rng.bytes(length)
        cases.append((f"{prefix} damaged {index}", bytes(damaged)))
    return cases


def npz_bombs() -> dict[str, bytes]:
    """npz files that must be refused before they inflate, each a few MB or less."""
    digits = 3_000_000
    images_header = npy((digits, 28, 28), data=b"")
    declared = len(images_header) + digits * 784
    labels = npy((digits,), data=b"")
    huge_labels = (deflated_zeros(labels, digits, -15), 8, 0, len(labels) + digits)
    small_header = npy((60, 28, 28), data=b"")
    floats_header = npy((600_000, 784), "<f8", b"")
    float_labels = npy((600_000,), data=b"")
    float_bytes = 600_000 * 784 * 8
    directory = b"".join(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0)
                         + b"%06d" % index for index in range(200_000))
    return {
        "an npz declaring 3,000,000 digits (2.4 GB inflated)": small_npz(
            X_train=(deflated_zeros(images_header, digits * 784, -15), 8, 0, declared), y_train=huge_labels),
        "an npz whose directory disagrees with its header": small_npz(
            X_train=(deflated_zeros(images_header, 10**6, -15), 8, 0, len(images_header) + 60 * 784)),
        "an npz member of 60 digits that inflates to 2.5 GB": small_npz(
            X_train=(deflated_zeros(small_header, 2_500_000_000, -15), 8, 0, len(small_header) + 60 * 784)),
        "an npz of 600,000 float64 digits, over the byte limit": small_npz(
            X_train=(deflated_zeros(floats_header, float_bytes, -15), 8, 0, len(floats_header) + float_bytes),
            y_train=(deflated_zeros(float_labels, 600_000, -15), 8, 0, len(float_labels) + 600_000)),
        "an npz member compressed with bzip2": small_npz(X_train=(bz2.compress(npy((60, 28, 28))), 12, 0, 47_168)),
        "an npz member compressed with lzma": small_npz(X_train=(b"\x00" * 64, 14, 0, 47_168)),
        "an npz member compressed with AES": small_npz(X_train=(b"\x00" * 64, 99, 0, 47_168)),
        "an npz with a negative shape": small_npz(X_train=deflated(npy((-1, 784), data=bytes(784)))),
        "an npz of pickled objects": small_npz(y_train=deflated(npy((60,), "|O", b"\x80\x04N."))),
        "an npz whose table of contents lists 200,000 entries": directory + struct.pack(
            "<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, len(directory), 0, 0),
    }


def npz_cases(rng: np.random.Generator) -> list[tuple[str, bytes, bool]]:
    """(name, content, must it be refused?) for about 190 npz inputs."""
    tiny = make_tiny_data(train=60, test=20)
    typed = {
        "timedelta images": {"X_train": tiny.x_train.astype("m8[ns]")},
        "datetime images": {"X_train": tiny.x_train.astype("M8[s]")},
        "complex images": {"X_train": tiny.x_train.astype(np.complex64)},
        "bool images": {"X_train": tiny.x_train > 0},
        "string images": {"X_train": tiny.x_train.astype(str)},
        "structured images": {"X_train": np.zeros((60, 28, 28), [("a", "u1"), ("b", "f4")])},
        "NaN images": {"X_test": np.full((20, 28, 28), np.nan)},
        "infinite images": {"X_test": np.full((20, 784), np.inf)},
        "negative images": {"X_test": -tiny.x_test.astype(np.int64) - 1},
        "string labels": {"y_train": tiny.y_train.astype(str)},
        "string one-hot labels": {"y_train": np.eye(10, dtype=int)[tiny.y_train].astype(str)},
        "complex labels": {"y_test": tiny.y_test + 1j},
        "bool one-hot labels": {"y_test": np.eye(10, dtype=bool)[tiny.y_test]},
        "NaN labels": {"y_test": np.full(20, np.nan)},
        "object labels": {"y_test": np.array(list(tiny.y_test), dtype=object)},
    }
    cases = [(name, npz_of(**arrays), True) for name, arrays in typed.items()]
    for index in range(15):
        shape = tuple(int(size) for size in rng.integers(0, 40, size=int(rng.integers(0, 5))))
        if shape not in ((60, 28, 28), (60, 784)):
            cases.append((f"npz images of shape {shape}", npz_of(X_train=np.zeros(shape, np.uint8)), True))
    cases += [(name, content, True) for name, content in npz_bombs().items()]
    valid = npz_bytes(tiny)
    compressed = io.BytesIO()
    np.savez_compressed(compressed, X_train=tiny.x_train, y_train=tiny.y_train, X_test=tiny.x_test, y_test=tiny.y_test)
    for prefix, content in (("npz", valid), ("compressed npz", compressed.getvalue())):
        for name, mutated in mutations(rng, content, 25, prefix):
            # Random bytes and cut files lose the zip's end record; overwritten bytes may miss everything checked.
            cases.append((name, mutated, "damaged" not in name and mutated != content))
    return cases


def idx_files(gz: bool) -> dict[str, bytes]:
    """The four IDX files of the tiny digits, plain or gzip-compressed."""
    tiny = make_tiny_data(train=60, test=20)
    files = dict(zip(IDX_NAMES, map(idx, (tiny.x_train, tiny.y_train, tiny.x_test, tiny.y_test))))
    return {name + ".gz": gzip.compress(raw) for name, raw in files.items()} if gz else files


def idx_cases(rng: np.random.Generator) -> list[tuple[str, dict[str, bytes], bool]]:
    """(name, the four files, must they be refused?) for about 140 IDX folders."""
    cases = []
    for gz in (False, True):
        valid = idx_files(gz)
        kind = "gz IDX" if gz else "IDX"
        suffix = ".gz" if gz else ""
        for index in range(20):
            target = IDX_NAMES[index % 4] + suffix
            for name, mutated in mutations(rng, valid[target], 1, f"{kind} {target} {index}"):
                refused = "damaged" not in name and mutated != valid[target]
                cases.append((name, {**valid, target: mutated}, refused))
        for index in range(10):
            shape = tuple(int(size) for size in rng.choice([0, 1, 28, 60, 784, 2**16, 2**31, 2**32 - 1],
                                                          size=int(rng.integers(0, 6))))
            raw = idx_header(*shape) + bytes(int(rng.integers(0, 2000)))
            content = deflated_zeros(raw, 0, 31) if gz else raw
            cases.append((f"{kind} images declaring {shape}", {**valid, IDX_NAMES[0] + suffix: content}, True))
    bombs = {
        "a gzip IDX file of 60 digits that inflates to 2.5 GB":
            deflated_zeros(idx_header(60, 28, 28), 2_500_000_000, 31),
        "a gzip IDX file declaring 4,000,000 digits": deflated_zeros(idx_header(4_000_000, 28, 28), GIB, 31),
        "a gzip IDX file whose sizes multiply past 64 bits": deflated_zeros(idx_header(*[2**32 - 1] * 4), 0, 31),
    }
    valid = idx_files(gz=True)
    cases += [(name, {**valid, IDX_NAMES[0] + ".gz": content}, True) for name, content in bombs.items()]
    return cases


def png_bombs() -> dict[str, bytes]:
    """PNGs that must be refused before they are decoded, or decode only what they declare."""
    text_bomb = chunk(b"zTXt", b"comment\x00\x00" + deflated_zeros(b"", GIB, 15))
    return {
        "a PNG declaring 15000 x 15000": png_declaring(15000, 15000),
        "a PNG declaring 10000 x 10000": png_declaring(10000, 10000),
        "a PNG declaring 5000 x 5000": png_declaring(5000, 5000),
        "a PNG declaring 65535 x 65535": png_declaring(65535, 65535),
        "a PNG declaring 0 x 0": png_declaring(0, 0),
        "a 100 x 100 PNG whose image data inflates to 1 GiB": png_declaring(100, 100, deflated_zeros(b"", GIB, 15)),
        "a PNG whose text inflates to 1 GiB": png_declaring(100, 100, extra=text_bomb),
    }


def png_cases(rng: np.random.Generator) -> list[tuple[str, bytes, bool]]:
    """(name, content, must it be refused?) for about 40 PNG inputs."""
    valid = seven_png()
    cases = [(name, content, True) for name, content in png_bombs().items()]
    for name, mutated in mutations(rng, valid, 10, "PNG"):
        cases.append((name, mutated, "random bytes" in name))  # PIL reads a PNG cut after its image data
    return cases


# --- feeding them ---------------------------------------------------------------------------------


def traced_peak(call) -> tuple[object, int]:
    """(what ``call()`` returned, or (the exception's type, its message); the most bytes Python and numpy held
    at once meanwhile). The exception itself is not kept: its traceback would keep what it read alive."""
    tracemalloc.reset_peak()
    try:
        outcome = call()
    except Exception as error:  # the caller checks that it is the one expected kind
        outcome = (type(error), str(error))
    return outcome, tracemalloc.get_traced_memory()[1]


@pytest.fixture
def traced():
    tracemalloc.start()
    yield
    tracemalloc.stop()


def check(name: str, outcome, peak: int, must_refuse: bool, problems: list[str]) -> None:
    """Note what is wrong with one outcome of traced_peak: anything but a one-line DataError (or, when
    allowed, data), or too much memory."""
    if isinstance(outcome, tuple) and outcome[0] is DataError:
        if "\n" in outcome[1] or "mnist-upload-" in outcome[1]:
            problems.append(f"{name}: message {outcome[1]!r}")
    elif isinstance(outcome, tuple):
        problems.append(f"{name}: {outcome[0].__name__}: {outcome[1]}")
    elif must_refuse or not isinstance(outcome, MnistData):
        problems.append(f"{name}: accepted")
    if peak > MEMORY_LIMIT:
        problems.append(f"{name}: {peak / 2**20:.0f} MB")


def test_malformed_npz_files(tmp_path, traced):
    problems = []
    for index, (name, content, must_refuse) in enumerate(npz_cases(np.random.default_rng(SEED))):
        path = tmp_path / f"{index}.npz"
        path.write_bytes(content)
        outcome, peak = traced_peak(lambda: load_file(path, cache=False))
        check(name, outcome, peak, must_refuse, problems)
    assert not problems, "\n".join(problems)


def test_malformed_idx_folders(tmp_path, traced):
    problems = []
    for index, (name, files, must_refuse) in enumerate(idx_cases(np.random.default_rng(SEED + 1))):
        folder = tmp_path / str(index)
        folder.mkdir()
        for file_name, content in files.items():
            (folder / file_name).write_bytes(content)
        outcome, peak = traced_peak(lambda: load_file(folder, cache=False))
        check(name, outcome, peak, must_refuse, problems)
    assert not problems, "\n".join(problems)


def test_malformed_uploads(traced):
    """The same kinds of input as browser uploads, under names a browser may send."""
    names = ["digits.npz", "..", "a\x00.npz", "x" * 300, "[link](https:example.com).npz", "C:\\Users\\me\\d.npz"]
    rng = np.random.default_rng(SEED + 2)
    problems = []
    for index, (name, content, must_refuse) in enumerate(npz_cases(rng)[::3]):
        file_name = names[index % len(names)]
        outcome, peak = traced_peak(lambda: load_upload([(file_name, content)]))
        check(f"{name} as {file_name!r}", outcome, peak, must_refuse, problems)
    for index, (name, files, must_refuse) in enumerate(idx_cases(rng)[::4]):
        outcome, peak = traced_peak(lambda: load_upload(list(files.items())))
        check(name, outcome, peak, must_refuse, problems)
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def models_folder(tmp_path_factory, tiny_result) -> Path:
    """A models folder holding the tiny Lecture model as "tiny", for predict."""
    from core.model.store import ModelStore

    folder = tmp_path_factory.mktemp("fuzz-models")
    ModelStore(folder).save("tiny", tiny_result)
    return folder


def test_malformed_images_through_predict(tmp_path, models_folder, capsys, traced):
    """`predict` in this process: exit status 2 and one line, or (for a PNG whose damage missed everything
    that is checked) a digit."""
    from core.cli import main

    problems = []
    for index, (name, content, must_refuse) in enumerate(png_cases(np.random.default_rng(SEED + 3))):
        path = tmp_path / f"{index}.png"
        path.write_bytes(content)
        status, peak = traced_peak(lambda: main(["predict", str(path), "--model", "tiny",
                                                 "--models-dir", str(models_folder)]))
        printed = capsys.readouterr()
        lines = printed.err.splitlines()
        refused = status == 2 and len(lines) == 1 and lines[0].startswith("error: ")
        read = status == 0 and not must_refuse and not lines and re.fullmatch(r"digit: \d .*", printed.out.strip())
        if not (refused or read):
            problems.append(f"{name}: status {status!r}, stderr {printed.err!r}")
        if peak > MEMORY_LIMIT:
            problems.append(f"{name}: {peak / 2**20:.0f} MB")
    assert not problems, "\n".join(problems)


# --- python -m core, in child processes -------------------------------------------------------------


# `python -m core ARGS` that then writes its peak resident memory (VmHWM, kB) to the file named first. Measured
# in the child itself: the ru_maxrss that wait4 or getrusage give for a child starts at its parent's size
# (Linux keeps the high-water mark of the memory the child had before exec), and the test session is large.
MEASURED_CLI = """
import runpy, sys
report = sys.argv.pop(1)
try:
    runpy.run_module("core", run_name="__main__", alter_sys=True)
finally:
    with open("/proc/self/status") as status, open(report, "w") as out:
        out.write(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
"""


def run_child(*args: str, report: Path) -> tuple[int, str, int]:
    """``python -m core ARGS``: (exit status, stderr, the child's peak resident memory in bytes)."""
    environment = {key: value for key, value in os.environ.items() if key != "MNIST_PATH"}
    child = subprocess.run([sys.executable, "-c", MEASURED_CLI, str(report), *args], cwd=ROOT, env=environment,
                           capture_output=True, timeout=CHILD_SECONDS)
    return child.returncode, child.stderr.decode(errors="replace"), int(report.read_text()) * 1024


def child_cases(tmp_path: Path, models: Path) -> dict[str, list[str]]:
    """About 30 inputs for `python -m core`: the bombs and a few of every other kind."""
    cases = {}
    images = png_bombs()
    refused = [(name, content) for name, content, must_refuse in png_cases(np.random.default_rng(SEED + 4))
               if must_refuse and name not in images]
    for index, (name, content) in enumerate([*images.items(), *refused[:3]]):
        path = tmp_path / f"{index}.png"
        path.write_bytes(content)
        cases[name] = ["predict", str(path), "--model", "tiny", "--models-dir", str(models)]
    bombs = npz_bombs()
    refused = [(name, content) for name, content, must_refuse in npz_cases(np.random.default_rng(SEED + 5))
               if must_refuse and name not in bombs]
    for index, (name, content) in enumerate([*bombs.items(), *refused[:5], *refused[-2:]]):
        path = tmp_path / f"{index}.npz"
        path.write_bytes(content)
        cases[name] = ["train", "--data", str(path), "--models-dir", str(models)]
    for index, (name, files, _) in enumerate(idx_cases(np.random.default_rng(SEED + 6))[-3:]):
        folder = tmp_path / f"idx{index}"
        folder.mkdir()
        for file_name, content in files.items():
            (folder / file_name).write_bytes(content)
        cases[name] = ["train", "--data", str(folder), "--models-dir", str(models)]
    return cases


def test_malformed_inputs_through_the_command_line(tmp_path, models_folder):
    """Each child fails with status 2 and one line; its peak memory is compared with a child that fails at once
    (a data file that does not exist), which loads the same modules."""
    report = tmp_path / "peak"
    _, _, baseline = run_child("train", "--data", str(tmp_path / "absent.npz"), report=report)
    problems = []
    for name, args in child_cases(tmp_path, models_folder).items():
        status, stderr, peak = run_child(*args, report=report)
        lines = stderr.splitlines()
        if status != 2 or len(lines) != 1 or not lines[0].startswith("error: ") or "Traceback" in stderr:
            problems.append(f"{name}: status {status}, stderr {stderr[-300:]!r}")
        if peak - baseline > MEMORY_LIMIT:
            problems.append(f"{name}: {(peak - baseline) / 2**20:.0f} MB above the baseline")
    assert not problems, "\n".join(problems)
