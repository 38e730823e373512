"""Giving memory back to the system once a large piece of work let go of it.

CPython frees small objects into its own arenas and larger blocks through the C library's
``malloc``; glibc keeps freed memory at the top of each heap (one per thread that allocated)
for later use instead of returning it. After a 10,000-member complaint build the server process
held some 80 MB it no longer used, and the next build grew on top of it (bench.complaint: peak
RSS 254 MB for the first build, 290 MB for the second). ``malloc_trim`` returns it, and
``map_large_blocks`` keeps large blocks out of the heaps in the first place.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable

__all__ = ["LARGE_BLOCK", "give_back", "map_large_blocks"]

# glibc's mallopt parameter for the size from which a block gets pages of its own (malloc.h)
_M_MMAP_THRESHOLD = -3
LARGE_BLOCK = 1024 * 1024  # a large case's texts and the driver's buffers for them are megabytes


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc; None elsewhere (musl, macOS: nothing to call)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``; None elsewhere."""
    libc = _glibc()
    if libc is None:
        return None
    trim = libc.malloc_trim
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


def map_large_blocks() -> bool:
    """From now on every block of ``LARGE_BLOCK`` bytes or more gets pages of its own from the
    system and gives them back when freed (glibc's M_MMAP_THRESHOLD, set: fixed). Left alone,
    glibc raises that threshold to the size of each such block freed, up to 32 MB: after the
    first large complaint build, the next one's megabyte-long texts and the database driver's
    buffers for its insert came from the heaps, which kept them. Measured in process over three
    10,000-member builds: peak RSS 244-259 MB left alone, 238-243 MB with 1 MiB (234-241 with
    glibc's starting 128 KiB, which maps many more blocks); held after each build 194-200 MB,
    178-185 MB; the builds' CPU time the same within the machine's noise. Called once by each
    web and worker process at start; False where there is no glibc."""
    libc = _glibc()
    if libc is None:
        return False
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK))


def give_back() -> None:
    """Return the C library's free memory to the system (glibc; elsewhere nothing). Blocking for
    a few milliseconds: call it from a worker thread in async code."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
