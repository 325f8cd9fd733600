"""core.native_memory: once set, a large block freed does not move later blocks of its size into glibc's heaps; the
free pages inside the heaps go back to the system every so often, from one thread."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.native_memory import trim_periodically
from helpers.paths import ROOT

# In a fresh process: malloc 1 MiB, free it, malloc 1 MiB again, and count the blocks glibc has mapped on their
# own (mallinfo2's hblks) that the second one added.
CHECK = """
import ctypes, sys
from core.native_memory import return_large_blocks

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]

libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = MallInfo2
set_here = sys.argv[1] == "set" and return_large_blocks()
libc.free(libc.malloc(1 << 20))
before = libc.mallinfo2().hblks
block = libc.malloc(1 << 20)
print(set_here, libc.mallinfo2().hblks - before)
libc.free(block)
"""


def mapped_blocks_after_a_free(setting: str) -> tuple[str, int]:
    finished = subprocess.run([sys.executable, "-c", CHECK, setting], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
    if "mallinfo2" in finished.stderr:
        pytest.skip("not glibc 2.33 or later: no mallinfo2 to count mapped blocks with")
    assert finished.returncode == 0, finished.stderr[-2000:]
    set_here, blocks = finished.stdout.split()
    return set_here, int(blocks)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc: Linux only")
def test_a_large_block_stays_mapped_on_its_own_after_one_of_its_size_was_freed():
    assert mapped_blocks_after_a_free("set") == ("True", 1)  # freeing it will return it to the system


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc: Linux only")
def test_without_the_setting_glibc_serves_the_second_block_from_its_heap():
    # What return_large_blocks defends against: the first free raised the threshold above 1 MiB.
    assert mapped_blocks_after_a_free("unset") == ("False", 0)


TRIMMING = """
import threading, time
from core.native_memory import TRIM_THREAD, trim, trim_periodically
first, second = trim_periodically(0.01), trim_periodically(0.01)
time.sleep(0.1)
names = [thread.name for thread in threading.enumerate()]
print(trim(), first, second, names.count(TRIM_THREAD))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc: Linux only")
def test_one_thread_trims_the_heaps_however_often_it_is_asked_to_start():
    finished = subprocess.run([sys.executable, "-c", TRIMMING], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert finished.stdout.split() == ["True", "True", "False", "1"]


def test_trimming_every_zero_seconds_is_refused_by_name():
    with pytest.raises(ValueError, match="every must be more than 0 seconds, got 0"):
        trim_periodically(0)
