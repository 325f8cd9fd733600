"""A data set from files uploaded in a browser: one npz, or the four MNIST IDX files.

The bytes are written to a temporary folder under their own names and read
with core.data.load_file, so an upload is checked exactly like a file on disk;
error messages name the uploaded file, not the temporary folder.

Size: Streamlit refuses an upload larger than ``server.maxUploadSize`` in .streamlit/config.toml
(100 MB; the full MNIST as one uncompressed npz is 55 MB) while it streams in, before this module sees it.
What arrives can still declare far more once inflated; core.data reads each array's declared shape first
and refuses more than MAX_DIGITS digits before inflating anything.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Sequence

from core.data.mnist import DataError, MnistData, load_file

# The folder the IDX files are put in; its name shows up in MnistData.source and in messages.
IDX_FOLDER = "your upload"
# The longest file name, in UTF-8 bytes, that Linux and macOS file systems store (NAME_MAX).
MAX_NAME_BYTES = 255


def load_upload(files: Sequence[tuple[str, bytes]]) -> MnistData:
    """(file name, content) pairs -> MnistData; raises DataError saying what to upload instead.

    One file is read as an npz unless its name says IDX ('idx' in it);
    several files (or one IDX file) are read as the four IDX files, optionally .gz.
    """
    if not files:
        raise DataError("No file uploaded: choose one .npz file, or the four MNIST IDX files together.")
    names = [_usable_name(name) for name, _ in files]
    if len(set(names)) != len(names):
        raise DataError(f"Two uploaded files have the same name ({', '.join(names)}); upload each file once.")
    single_npz = len(files) == 1 and "idx" not in names[0].lower()
    try:
        with tempfile.TemporaryDirectory(prefix="mnist-upload-") as temporary:
            folder = Path(temporary) if single_npz else Path(temporary) / IDX_FOLDER
            folder.mkdir(exist_ok=True)
            for name, (_, content) in zip(names, files):
                (folder / name).write_bytes(content)
            try:
                return load_file(folder / names[0] if single_npz else folder, cache=False)
            except DataError as error:
                raise DataError(str(error).replace(f"{temporary}/", "")) from None
    except OSError as error:  # a full or read-only temporary folder; strerror never holds its path
        raise DataError(f"The server could not keep the upload ({error.strerror}); try again later.") from None


def _usable_name(name: str) -> str:
    """The uploaded file's own name, without any folders a browser sent; DataError when it cannot name a file.

    '..', '.', an empty name, a control character (NUL, a line break) or more than MAX_NAME_BYTES
    bytes cannot be a file name in the temporary folder: each is refused with a message saying so.
    """
    name = str(name)
    base = name.replace("\\", "/").rsplit("/", 1)[-1]  # never a path from the browser
    shown = repr(name if len(name) <= 40 else name[:40] + "...")
    size = len(base.encode("utf-8", "replace"))
    if base in ("", ".", ".."):
        problem = f"the name {shown} is not a file name"
    elif any(ord(character) < 32 or ord(character) == 127 or 0xD800 <= ord(character) <= 0xDFFF
             for character in base):
        problem = f"the name {shown} holds a control character or a broken one"
    elif size > MAX_NAME_BYTES:
        problem = f"the name is {size:,} bytes long, more than {MAX_NAME_BYTES}"
    else:
        return base
    raise DataError(f"An uploaded file cannot be used: {problem}. Rename the file and upload it again.")
