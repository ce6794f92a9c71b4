"""Long-lived gRPC streams between a gateway and a backend service, both ends.

Gateway side, :class:`ReconnectingStream`: the base of a client that keeps one stream to a
service open for the life of the gateway (the chat plugin's ``Subscribe`` delivery stream, the
world plugin's ``Connect`` stream; a third party's push subscription the same way).

Strategy: :meth:`ReconnectingStream.run` opens the stream (:meth:`~ReconnectingStream.
stream_once`, written by the subclass) again whenever it ends, until the task is cancelled;
waits between attempts double from ``initial_backoff`` up to ``max_backoff`` and start over
once a stream got as far as :attr:`~ReconnectingStream.connected`. Ordinary connection trouble
(the service is down, restarting or dropped us: a ``grpc.aio.AioRpcError``, also when it
arrives wrapped in the ``ExceptionGroup`` of an anyio task group) is one warning line with the
status and the wait; anything else is logged with its traceback, and never ends the loop.
Cancellation is never caught: :meth:`~ReconnectingStream.aclose` cancels the task and the
subclass's ``finally`` blocks close the call. Items the stream carries go to a callback through
:meth:`~ReconnectingStream.dispatch`; an exception there is logged and counted, never allowed to
end the stream.

Service side, :class:`GatewayStream`: one open stream of a gateway as a reference service keeps
it, a bounded queue of events ended by a :class:`StreamEnd` carrying the final status, so a
gateway that cannot keep up is dropped instead of delaying the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio
import grpc
import grpc.aio

if TYPE_CHECKING:
    from grpc.aio import ServicerContext
__all__ = ["GatewayStream", "ReconnectingStream", "StreamEnd", "rpc_failure"]

T = TypeVar("T")
EventT = TypeVar("EventT")


def rpc_failure(exc: BaseException) -> grpc.aio.AioRpcError | None:
    """The gRPC error that ``exc`` is, or the first of an exception group (however nested)
    made only of gRPC errors; None for anything else."""
    if isinstance(exc, grpc.aio.AioRpcError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        failures = [rpc_failure(inner) for inner in exc.exceptions]
        if failures and all(failure is not None for failure in failures):
            return failures[0]
    return None


class ReconnectingStream:
    """Keeps one stream to a backend service open, reconnecting with exponential backoff.

    Subclasses implement :meth:`stream_once`, set ``_ready`` once the service accepted the
    stream and whatever must be replayed after a reconnect is back, count :attr:`connections`,
    and may extend :meth:`stream_lost`. ``label`` starts the log lines about the stream
    (``"chat: delivery stream"``), ``callback_label`` those about a failed callback
    (``"chat: delivery"``); ``task_name`` names the task :meth:`start` creates.
    """

    def __init__(
        self,
        *,
        label: str,
        callback_label: str,
        task_name: str,
        logger: logging.Logger,
        initial_backoff: float = 0.1,
        max_backoff: float = 5.0,
    ) -> None:
        self._label = label
        self._callback_label = callback_label
        self._task_name = task_name
        self._log = logger
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        #: Set while the stream is open and replayed (:attr:`connected`); subclasses set it.
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: Streams opened successfully (1 + reconnects).
        self.connections = 0
        #: Items handed to the callback by :meth:`dispatch`.
        self.dispatched = 0
        #: Items whose callback raised.
        self.callback_errors = 0

    @property
    def connected(self) -> bool:
        """True while the stream is open and everything to replay has been replayed."""
        return self._ready.is_set()

    async def wait_connected(self) -> None:
        """Wait until :attr:`connected`."""
        await self._ready.wait()

    def start(self) -> None:
        """Run :meth:`run` as a background task of the current event loop."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name=self._task_name)

    async def aclose(self) -> None:
        """Stop the background task started by :meth:`start` (closes the stream)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run(self) -> None:
        """Keep the stream open until cancelled, reconnecting with exponential backoff."""
        backoff = self._initial_backoff
        while True:
            try:
                await self.stream_once()
                self._log.warning("%s ended by the service; reconnecting", self._label)
            except Exception as exc:
                failure = rpc_failure(exc)
                if failure is not None:
                    self._log.warning(
                        "%s failed (%s: %s); retry in %.2fs",
                        self._label,
                        failure.code().name,
                        failure.details(),
                        backoff,
                    )
                else:
                    # Never let an unexpected error end the stream for good.
                    self._log.exception("%s crashed; retry in %.2fs", self._label, backoff)
            if self._ready.is_set():
                backoff = self._initial_backoff
            self.stream_lost()
            await anyio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)

    async def stream_once(self) -> None:
        """Open the stream and read it until it ends: return when the service ended it, raise
        when it failed. Must close the call when cancelled."""
        raise NotImplementedError

    def stream_lost(self) -> None:
        """The stream ended (or never opened): no longer :attr:`connected`. Subclasses that
        keep more per-stream state reset it here too (and call this)."""
        self._ready.clear()

    async def dispatch(self, callback: Callable[[T], Awaitable[None] | None], item: T) -> None:
        """Hand ``item`` to ``callback`` (awaited when it returns an awaitable); an exception
        there is logged and counted in :attr:`callback_errors`, never raised."""
        self.dispatched += 1
        try:
            result = callback(item)
            if inspect.isawaitable(result):
                await result
        except Exception:
            self.callback_errors += 1
            self._log.exception("%s callback failed", self._callback_label)


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """Queued last on a stream that must end with this status."""

    code: grpc.StatusCode
    details: str


@dataclass(eq=False, slots=True)
class GatewayStream(Generic[EventT]):
    """One open stream of gateway ``gateway_id`` on a reference service: the events queued for
    it (``queue``, bounded by its maxsize), the characters it announced, and whether it is
    ending. Size the queue one above the event limit, so the final :class:`StreamEnd` always
    fits."""

    gateway_id: str
    queue: asyncio.Queue[EventT | StreamEnd]
    characters: set[int] = field(default_factory=set)
    closed: bool = False

    def offer(self, event: EventT) -> bool:
        """Queue ``event`` without waiting; False when the stream is closed or its queue full."""
        if self.closed:
            return False
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            return False
        return True

    def close(self, code: grpc.StatusCode, details: str) -> None:
        """End the stream: discard what it has not read and queue the final status."""
        if self.closed:
            return
        self.closed = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(StreamEnd(code, details))

    async def drain(
        self, context: ServicerContext[Any, Any], logger: logging.Logger, label: str
    ) -> AsyncIterator[EventT]:
        """The queued events, for the servicer to yield, until the final status: that one is
        logged (``"<label>: stream of <gateway> ended: <details>"``) and set on ``context``."""
        while True:
            item = await self.queue.get()
            if isinstance(item, StreamEnd):
                logger.info("%s: stream of %r ended: %s", label, self.gateway_id, item.details)
                context.set_code(item.code)
                context.set_details(item.details)
                return
            yield item
