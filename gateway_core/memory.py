"""Giving freed memory back to the operating system (glibc's malloc; elsewhere a no-op).

Why: glibc raises its mmap threshold to the size of the largest block freed so far (up to
32 MiB). After the first argon2 operation frees its 19 MiB working memory, every later one is
carved out of a malloc arena instead of a fresh mapping, and an arena rarely shrinks: each
hashing thread kept ~20 MB after a login flood (bench/bench_memory.py). A fixed threshold
turns the adaptation off, so blocks of ``MMAP_THRESHOLD`` bytes or more are mapped and unmapped
on their own, and RSS comes back when the work is done. :func:`trim_heap` (``malloc_trim``)
also hands back the free pages inside the heap: the main heap only shrinks from its top, so
after thousands of connections closed at once it keeps their pages (+70 MB after 5,000) until
a free at the top happens to come; :class:`HeapTrimmer` says when such a drop is worth a trim.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading
import time
from collections.abc import Callable

__all__ = ["MMAP_THRESHOLD", "HeapTrimmer", "fix_mmap_threshold", "trim_heap"]

#: glibc's default starting threshold: fixed at this value it no longer grows.
MMAP_THRESHOLD = 128 * 1024
_M_MMAP_THRESHOLD = -3  # mallopt parameter number (malloc.h)

_lock = threading.Lock()
_fixed = False


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt  # noqa: B018 - glibc only: musl and others have no mallopt/malloc_trim
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError, TypeError):
        return None
    return libc


def fix_mmap_threshold(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix malloc's mmap threshold for this process (once; later calls do nothing). True
    when it is fixed (now or before), False without glibc."""
    global _fixed
    with _lock:
        if _fixed:
            return True
        libc = _libc()
        if libc is None or not libc.mallopt(_M_MMAP_THRESHOLD, threshold):
            return False
        _fixed = True
        return True


def trim_heap() -> bool:
    """``malloc_trim(0)``: give the free pages of every arena back (takes milliseconds on a
    large heap and each arena's lock: call it off the event loop, after a burst). True when
    memory was released."""
    libc = _libc()
    return bool(libc is not None and libc.malloc_trim(0))


class HeapTrimmer:
    """When to :func:`trim_heap`: once the number of live connections (or another measure of
    load) has fallen by ``drop`` from its peak since the last trim, at most once per
    ``min_interval`` seconds. A periodic loop passes the current count to
    :meth:`should_trim` and trims off the event loop when it says so."""

    __slots__ = ("clock", "drop", "last", "min_interval", "peak")

    def __init__(self, *, drop: int = 500, min_interval: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.drop = drop
        self.min_interval = min_interval
        self.clock = clock
        self.peak = 0
        self.last = -float("inf")

    def should_trim(self, current: int) -> bool:
        """Note ``current``; True when a trim is due now (the peak then restarts from it)."""
        self.peak = max(self.peak, current)
        if self.peak - current < self.drop:
            return False
        now = self.clock()
        if now - self.last < self.min_interval:
            return False
        self.peak, self.last = current, now
        return True
