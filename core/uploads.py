"""A data set from files uploaded in a browser: one npz, or the four MNIST IDX files.

The bytes are written to a temporary folder under their own names and read
with core.data.load_file, so an upload is checked exactly like a file on disk;
error messages name the uploaded file, not the temporary folder.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Sequence

from core.data import DataError, MnistData, load_file

# The folder the IDX files are put in; its name shows up in MnistData.source and in messages.
IDX_FOLDER = "your upload"


def load_upload(files: Sequence[tuple[str, bytes]]) -> MnistData:
    """(file name, content) pairs -> MnistData; raises DataError saying what to upload instead.

    One file is read as an npz unless its name says IDX ('idx' in it);
    several files (or one IDX file) are read as the four IDX files, optionally .gz.
    """
    if not files:
        raise DataError("No file uploaded: choose one .npz file, or the four MNIST IDX files together.")
    names = [Path(name).name or "upload" for name, _ in files]  # never a path from the browser
    if len(set(names)) != len(names):
        raise DataError(f"Two uploaded files have the same name ({', '.join(names)}); upload each file once.")
    with tempfile.TemporaryDirectory(prefix="mnist-upload-") as temporary:
        single_npz = len(files) == 1 and "idx" not in names[0].lower()
        folder = Path(temporary) if single_npz else Path(temporary) / IDX_FOLDER
        folder.mkdir(exist_ok=True)
        for name, (_, content) in zip(names, files):
            (folder / name).write_bytes(content)
        try:
            return load_file(folder / names[0] if single_npz else folder, cache=False)
        except DataError as error:
            raise DataError(str(error).replace(f"{temporary}/", "")) from None
