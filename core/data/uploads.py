"""A data set from files uploaded in a browser: one npz, or the four MNIST IDX files; and the server's pool of them.

The bytes are written to a temporary folder under their own names and read
with core.data.load_file, so an upload is checked exactly like a file on disk;
error messages name the uploaded file, not the temporary folder.

UploadPool holds each distinct upload once (by the hash of its files), shared by every browser session that
uploaded it, and lets it go when the last of them ends; what they hold counts against a budget per session and
one for the server. Three sessions that each uploaded a 756 kB npz of 980,000 blank digits took a server from
1.06 to 3.3 GB, and a closed session's upload stayed for 37 minutes (issue 22).

Size: Streamlit refuses an upload larger than ``server.maxUploadSize`` in .streamlit/config.toml
(100 MB; the full MNIST as one uncompressed npz is 55 MB) while it streams in, before this module sees it.
What arrives can still declare far more once inflated; core.data reads each array's declared shape first
and refuses more than MAX_DIGITS digits before inflating anything.
"""

from __future__ import annotations

import gc
import hashlib
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from core.data.mnist import DataError, DataTooLarge, MnistData, load_file
from core.per_server import one_per_server
from core.settings import number_setting

# The folder the IDX files are put in; its name shows up in MnistData.source and in messages.
IDX_FOLDER = "your upload"
# The longest file name, in UTF-8 bytes, that Linux and macOS file systems store (NAME_MAX).
MAX_NAME_BYTES = 255


def load_upload(files: Sequence[tuple[str, bytes]], max_bytes: int | None = None) -> MnistData:
    """(file name, content) pairs -> MnistData; raises DataError saying what to upload instead.

    One file is read as an npz unless its name says IDX ('idx' in it);
    several files (or one IDX file) are read as the four IDX files, optionally .gz.
    max_bytes : the most memory reading them may take (core.data.mnist.reading_bytes); more raises DataTooLarge,
        from the files' headers, before anything is inflated.
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
                return load_file(folder / names[0] if single_npz else folder, cache=False, max_bytes=max_bytes)
            except DataTooLarge as error:
                raise DataTooLarge(error.needed, str(error).replace(f"{temporary}/", "")) from None
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


SESSION_MB_VARIABLE = "MNIST_UPLOAD_SESSION_MB"
# What one session's upload may take in memory, reading included: 4x the full MNIST (55 MB as uint8), or 330,000
# digits. EMNIST-size sets (up to MAX_DIGITS) need a larger value.
SESSION_MB = 256
SERVER_MB_VARIABLE = "MNIST_UPLOAD_SERVER_MB"
# What every session's uploads may take together: a class can hold four different large sets, or any number of
# sessions one shared set, without the server swapping.
SERVER_MB = 1024
GRACE_VARIABLE = "MNIST_UPLOAD_GRACE_SECONDS"
# How long a session that has gone keeps its upload: Streamlit keeps a closed tab's session this long (2 minutes)
# for the same browser to reconnect, say after a phone slept.
GRACE_SECONDS = 120.0


@dataclass
class _Held:
    data: MnistData
    size: int  # bytes of its arrays
    holders: set[str]


class UploadPool:
    """Uploaded data sets held once per distinct upload, shared by the holders (browser sessions) that uploaded it.

    A holder holds one upload at a time; a new one replaces its last. An upload is read only if it fits its
    holder's budget (``session_bytes``) and what is left of the pool's (``server_bytes``), from the files' headers
    before anything is inflated; otherwise DataError says which budget and what to do. One already held costs
    nothing more. ``release`` lets a holder's upload go, and the last holder's release frees it; then a full garbage
    collection runs, so that what referred to it in reference cycles goes too (the interpreter's own collector
    reaches old objects rarely: a forced one took a server from 898 to 151 MB). ``start_reaper`` releases the
    holders that have ended, on a thread of its own.

    session_bytes, server_bytes : the budgets; None reads MNIST_UPLOAD_SESSION_MB and MNIST_UPLOAD_SERVER_MB.
    """

    def __init__(self, session_bytes: int | None = None, server_bytes: int | None = None):
        self.session_bytes = _megabytes(SESSION_MB_VARIABLE, SESSION_MB) if session_bytes is None else session_bytes
        self.server_bytes = _megabytes(SERVER_MB_VARIABLE, SERVER_MB) if server_bytes is None else server_bytes
        self._lock = threading.Lock()
        self._held: dict[str, _Held] = {}  # upload key -> its data and holders
        self._key_of: dict[str, str] = {}  # holder -> the key of the upload it holds
        self._reading = 0  # bytes set aside for uploads being read now
        self._gone_since: dict[str, float] = {}  # holder -> when the reaper first found it ended
        self._reaper: threading.Thread | None = None

    def hold(self, holder: str, files: Sequence[tuple[str, bytes]]) -> str:
        """Read (or share) the upload of ``files`` for ``holder`` and return its key, for ``data``; the holder's
        previous upload is released. Raises DataError: a bad file (as load_upload), or over a budget."""
        digest = hashlib.sha256()
        for name, content in files:
            digest.update(hashlib.sha256(str(name).encode("utf-8", "replace")).digest())
            digest.update(hashlib.sha256(content).digest())
        key = f"upload:{digest.hexdigest()[:32]}"
        with self._lock:
            if key in self._held:
                self._switch(holder, key)
                return key
            room = self.server_bytes - self._reading - sum(held.size for held in self._held.values()
                                                           if holder not in held.holders or len(held.holders) > 1)
            allowed = min(self.session_bytes, room)
            self._reading += max(allowed, 0)
        try:
            data = load_upload(files, max_bytes=max(allowed, 0))
        except DataTooLarge as error:
            raise DataError(self._too_large(error.needed, allowed)) from None
        finally:
            with self._lock:
                self._reading -= max(allowed, 0)
        with self._lock:
            if key not in self._held:  # another holder may have read the same files meanwhile
                self._held[key] = _Held(data, _size(data), set())
            self._switch(holder, key)
        return key

    def data(self, key: str) -> MnistData | None:
        """The data set of an upload key ``hold`` returned; None once released."""
        with self._lock:
            held = self._held.get(key)
            return held.data if held is not None else None

    def release(self, holder: str) -> None:
        """Let go of ``holder``'s upload; the last holder's release frees it (and collects garbage)."""
        with self._lock:
            freed = self._drop(holder)
        if freed:
            gc.collect()

    def held_bytes(self) -> int:
        """Bytes of every upload held now."""
        with self._lock:
            return sum(held.size for held in self._held.values())

    def holders(self) -> list[str]:
        with self._lock:
            return list(self._key_of)

    def release_ended(self, alive: Callable[[str], bool], grace_seconds: float, now: float | None = None) -> list[str]:
        """Release every holder for which ``alive`` has said False for ``grace_seconds``; returns them."""
        now = time.monotonic() if now is None else now
        ended = []
        for holder in self.holders():
            if alive(holder):
                self._gone_since.pop(holder, None)
            elif now - self._gone_since.setdefault(holder, now) >= grace_seconds:
                ended.append(holder)
        freed = False
        with self._lock:
            for holder in ended:
                self._gone_since.pop(holder, None)
                freed = self._drop(holder) or freed
        if freed:
            gc.collect()  # a safe point: no page of this holder is running, and the others' wait is milliseconds
        return ended

    def start_reaper(self, alive: Callable[[str], bool], grace_seconds: float | None = None) -> None:
        """Release ended holders (``release_ended``) every few seconds on a daemon thread, from now on; once."""
        grace = number_setting(GRACE_VARIABLE, GRACE_SECONDS) if grace_seconds is None else grace_seconds
        with self._lock:
            if self._reaper is not None:
                return
            self._reaper = threading.Thread(target=self._reap, args=(alive, grace), name="mnist-upload-reaper",
                                            daemon=True)
        self._reaper.start()

    def _reap(self, alive: Callable[[str], bool], grace: float) -> None:
        while True:
            time.sleep(min(5.0, max(grace / 2, 0.2)))
            self.release_ended(alive, grace)

    def _switch(self, holder: str, key: str) -> None:
        """``holder`` now holds ``key``, and no longer its previous upload (called with the lock held)."""
        if self._key_of.get(holder) != key:
            self._drop(holder)
        self._held[key].holders.add(holder)
        self._key_of[holder] = key

    def _drop(self, holder: str) -> bool:
        """Forget ``holder``'s upload; True when that freed it (called with the lock held)."""
        key = self._key_of.pop(holder, None)
        held = self._held.get(key) if key is not None else None
        if held is None:
            return False
        held.holders.discard(holder)
        if held.holders:
            return False
        del self._held[key]
        return True

    def _too_large(self, needed: int, allowed: int) -> str:
        mb = 2**20
        if allowed >= self.session_bytes:
            return (f"These digits take {needed / mb:,.0f} MB of the server's memory to read, more than the "
                    f"{self.session_bytes / mb:,.0f} MB one session may use for an upload ({SESSION_MB_VARIABLE}). "
                    "Upload fewer digits, or store the pixels as uint8 (0-255).")
        return (f"The server's memory for uploads is in use by other sessions: {max(allowed, 0) / mb:,.0f} MB of "
                f"its {self.server_bytes / mb:,.0f} MB are free ({SERVER_MB_VARIABLE}), and these digits take "
                f"{needed / mb:,.0f} MB to read. Try again once other sessions have ended or gone back to the "
                "default digits, or upload fewer digits.")


def _size(data: MnistData) -> int:
    return sum(array.nbytes for array in (data.x_train, data.y_train, data.x_test, data.y_test))


def _megabytes(variable: str, default: float) -> int:
    return int(number_setting(variable, default) * 2**20)


# The pool every session of this server shares, made on first use; raises ValueError for a bad variable.
server_pool = one_per_server(UploadPool)
