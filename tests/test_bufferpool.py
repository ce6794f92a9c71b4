"""The receive buffer pool: take/return, exhaustion counting, FIFO hand-over to waiters."""

from __future__ import annotations

import pytest

from gateway_core.bufferpool import BufferPool


def test_bufferpool_hands_out_buffers_of_the_configured_size() -> None:
    changes: list[int] = []
    pool = BufferPool(2, 64, on_change=changes.append)
    a = pool.try_acquire()
    b = pool.try_acquire()
    assert a is not None and b is not None and a is not b
    assert len(a) == len(b) == 64
    assert pool.in_use == 2
    pool.release(a)
    pool.release(b)
    assert pool.in_use == 0
    assert changes == [1, 2, 1, 0]


def test_bufferpool_exhaustion_returns_none_and_is_counted() -> None:
    exhausted: list[None] = []
    pool = BufferPool(1, 16, on_exhausted=lambda: exhausted.append(None))
    first = pool.try_acquire()
    assert first is not None
    assert pool.try_acquire() is None
    assert pool.try_acquire() is None
    assert pool.exhausted == 2
    assert len(exhausted) == 2


def test_bufferpool_release_goes_to_the_oldest_waiter_first() -> None:
    pool = BufferPool(1, 16)
    buf = pool.try_acquire()
    assert buf is not None
    got: list[tuple[str, bytearray]] = []
    pool.wait(lambda b: got.append(("first", b)))
    pool.wait(lambda b: got.append(("second", b)))
    pool.release(buf)
    assert got == [("first", buf)]
    assert pool.in_use == 1  # handed over, not returned to the free list
    pool.release(buf)
    assert [name for name, _ in got] == ["first", "second"]
    pool.release(buf)
    assert pool.in_use == 0 and pool.waiting == 0


def test_bufferpool_cancelled_waiter_is_skipped() -> None:
    pool = BufferPool(1, 16)
    buf = pool.try_acquire()
    assert buf is not None
    got: list[bytearray] = []

    def waiter(b: bytearray) -> None:
        got.append(b)

    pool.wait(waiter)
    pool.cancel_wait(waiter)
    pool.cancel_wait(waiter)  # twice is harmless
    pool.release(buf)
    assert got == [] and pool.in_use == 0


def test_bufferpool_rejects_foreign_buffers_and_bad_sizes() -> None:
    pool = BufferPool(1, 16)
    with pytest.raises(ValueError):
        pool.release(bytearray(8))
    with pytest.raises(ValueError):
        BufferPool(0, 16)
