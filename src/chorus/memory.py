"""Giving memory back to the system once a large piece of work let go of it.

CPython frees small objects into its own arenas and larger blocks through the C library's
``malloc``; glibc keeps freed memory at the top of each heap (one per thread that allocated)
for later use instead of returning it. After a 10,000-member complaint build the server process
held some 80 MB it no longer used, and the next build grew on top of it (bench.complaint: peak
RSS 254 MB for the first build, 290 MB for the second). ``malloc_trim`` returns it.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable

__all__ = ["give_back"]


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``; None elsewhere (musl, macOS: nothing to call)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


def give_back() -> None:
    """Return the C library's free memory to the system (glibc; elsewhere nothing). Blocking for
    a few milliseconds: call it from a worker thread in async code."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
