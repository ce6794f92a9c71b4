"""gateway_core.memory: large blocks go back to the operating system once freed.

Each case runs in a fresh interpreter: the mmap threshold is process-wide state, and what the
test process allocated before would blur its RSS.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from gateway_core.memory import HeapTrimmer, _libc, fix_mmap_threshold, trim_heap
from gateway_core.testing import ManualClock

glibc = pytest.mark.skipif(_libc() is None, reason="needs glibc's malloc")

#: Allocates, touches and frees 20 MiB blocks in two threads, as argon2's hashing threads do,
#: and prints the growth of RSS in KiB that stays afterwards.
CHURN = textwrap.dedent("""
    import ctypes, sys, threading
    from gateway_core.memory import fix_mmap_threshold
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    SIZE = 20 * 1024 * 1024

    def rss():
        with open("/proc/self/status") as status:
            return next(int(l.split()[1]) for l in status if l.startswith("VmRSS:"))

    def churn():
        for _ in range(5):
            block = libc.malloc(SIZE)
            ctypes.memset(block, 1, SIZE)
            small = libc.malloc(64)  # a live allocation after it: the top cannot shrink
            libc.free(block)
            leftovers.append(small)

    leftovers = []
    if sys.argv[1] == "fixed":
        assert fix_mmap_threshold()
    before = rss()
    threads = [threading.Thread(target=churn) for _ in range(2)]
    for t in threads: t.start()
    for t in threads: t.join()
    print(rss() - before)
""")


def retained_kib(mode: str) -> int:
    result = subprocess.run([sys.executable, "-c", CHURN, mode], capture_output=True,
                            text=True, timeout=60, check=True)
    return int(result.stdout)


@glibc
def test_with_a_fixed_threshold_freed_large_blocks_do_not_stay_in_rss() -> None:
    assert retained_kib("fixed") < 4 * 1024


@glibc
def test_without_it_glibc_keeps_them_which_is_what_the_fix_is_for() -> None:
    # The premise of fix_mmap_threshold: glibc's adaptive threshold keeps the blocks.
    assert retained_kib("adaptive") >= 20 * 1024


@glibc
def test_fixing_is_idempotent_and_trimming_reports_a_result() -> None:
    assert fix_mmap_threshold() is True
    assert fix_mmap_threshold() is True
    assert isinstance(trim_heap(), bool)


def test_a_trim_is_due_once_the_load_fell_by_the_drop_from_its_peak() -> None:
    clock = ManualClock()
    trimmer = HeapTrimmer(drop=500, min_interval=10.0, clock=clock)
    assert [trimmer.should_trim(n) for n in (0, 2000, 5000, 4600)] == [False] * 4
    assert trimmer.should_trim(4400) is True  # 600 below the peak of 5,000
    assert trimmer.should_trim(0) is False  # the peak restarted at 4,400, but not 10 s yet
    clock.advance(10.0)
    assert trimmer.should_trim(0) is True
    assert trimmer.peak == 0
    clock.advance(60.0)
    assert trimmer.should_trim(0) is False  # no new drop: nothing to give back
