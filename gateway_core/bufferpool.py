"""Pooled receive buffers (BUFFER_POOL_SIZE buffers of RECEIVE_BUFFER_SIZE bytes).

Strategy: a connection reads straight into a pooled ``bytearray`` (asyncio
``BufferedProtocol.get_buffer``) and keeps that buffer only while it holds received bytes that
its dispatcher has not fed to the protocol layer yet; the dispatcher hands it back as soon as
it has taken the bytes. So the pool bounds the memory of input in flight, not the number of
connections: an idle connection holds no buffer.

Exhaustion (every buffer is held by a connection whose handlers are still busy): the read
that found the pool empty lands in a temporary buffer of the same size, the event is counted
(``exhausted``), and that connection stops reading (TCP backpressure on the peer) until a
pooled buffer is returned to it, first come first served. Memory beyond the pool is therefore
bounded by one buffer per waiting connection, and no connection is refused for it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable


class BufferPool:
    """A fixed set of equally sized receive buffers with a FIFO of waiters.

    ``on_change(in_use)`` is called whenever the number of buffers in use changes and
    ``on_exhausted()`` each time a taker finds the pool empty (both feed metrics).
    """

    __slots__ = ("_free", "_on_change", "_on_exhausted", "_waiters", "buffer_size", "exhausted",
                 "size")

    def __init__(
        self,
        size: int,
        buffer_size: int,
        *,
        on_change: Callable[[int], None] | None = None,
        on_exhausted: Callable[[], None] | None = None,
    ) -> None:
        if size < 1 or buffer_size < 1:
            raise ValueError("a buffer pool needs at least one buffer of at least one byte")
        self.size = size
        self.buffer_size = buffer_size
        self.exhausted = 0
        # Allocated up front: the pool is a memory budget the operator chose.
        self._free: list[bytearray] = [bytearray(buffer_size) for _ in range(size)]
        self._waiters: deque[Callable[[bytearray], None]] = deque()
        self._on_change = on_change
        self._on_exhausted = on_exhausted

    @property
    def in_use(self) -> int:
        """Buffers currently taken."""
        return self.size - len(self._free)

    @property
    def waiting(self) -> int:
        """Takers waiting for a buffer."""
        return len(self._waiters)

    def try_acquire(self) -> bytearray | None:
        """Take a free buffer, or return ``None`` (and count it) when the pool is exhausted."""
        if self._free:
            buf = self._free.pop()
            if self._on_change is not None:
                self._on_change(self.size - len(self._free))
            return buf
        self.exhausted += 1
        if self._on_exhausted is not None:
            self._on_exhausted()
        return None

    def wait(self, callback: Callable[[bytearray], None]) -> None:
        """Queue ``callback``; it receives the next released buffer (FIFO)."""
        self._waiters.append(callback)

    def cancel_wait(self, callback: Callable[[bytearray], None]) -> None:
        """Withdraw a queued ``callback`` (its connection went away)."""
        try:
            self._waiters.remove(callback)
        except ValueError:
            pass

    def release(self, buf: bytearray) -> None:
        """Give ``buf`` back: straight to the oldest waiter if there is one."""
        if len(buf) != self.buffer_size:
            raise ValueError("not a buffer of this pool")
        if self._waiters:
            self._waiters.popleft()(buf)
            return
        self._free.append(buf)
        if self._on_change is not None:
            self._on_change(self.size - len(self._free))
