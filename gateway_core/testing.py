"""Test support for the gateway and its plugins (the built-in ones and a third party's).

Real parts on loopback, as the project's tests use them: :func:`serve_on_loopback` runs a
reference service on a ``grpc.aio`` server on 127.0.0.1 (the :class:`~gateway_core.grpc.
ServiceHost` the gateway itself uses), :class:`StreamReader` reads a streaming call in the
background, :func:`running_gateway` runs a whole :class:`~gateway_core.app.Gateway` in-process
on an ephemeral port, :class:`ManualClock` is a time source a test moves by hand (the one
boundary the service tests replace), and :func:`free_port` finds a port for a subprocess.

Nothing here imports pytest: wrap these in the fixtures a suite needs, e.g.::

    @pytest.fixture
    async def inventory() -> AsyncIterator[str]:
        async with serve_on_loopback(InventoryService(...), "inventory") as host:
            yield host.address
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar

import anyio
import grpc
import grpc.aio

from gateway_core.app import Gateway
from gateway_core.grpc import ReferenceService, ServiceHost

__all__ = [
    "ManualClock",
    "StreamReader",
    "free_port",
    "running_gateway",
    "serve_on_loopback",
]

T = TypeVar("T")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on at the moment (for a subprocess to bind)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ManualClock:
    """A time source (``Callable[[], float]``) that only moves when told to."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        self.now += seconds


@contextlib.asynccontextmanager
async def serve_on_loopback(
    service: ReferenceService, name: str = "service"
) -> AsyncIterator[ServiceHost]:
    """Start ``service`` and serve it (with the health service, under ``name``) on an ephemeral
    127.0.0.1 port; yields the host (``host.address`` is ``"127.0.0.1:<port>"``). On exit, or
    earlier through ``await host.stop()`` to make the service vanish mid-test, the server stops
    at once (open calls are cancelled), then the service."""
    host = ServiceHost({name: service}, grace=0)
    await host.start()
    try:
        yield host
    finally:
        await host.stop()


class StreamReader(Generic[T]):
    """Reads the responses of a streaming ``call`` into :attr:`events` in the background.

    :meth:`start` begins reading; :attr:`ended` is set when the stream ends (its status, then,
    from :meth:`code`); :meth:`aclose` cancels the call and waits for the reader.
    """

    def __init__(self, call: Any, *, timeout: float = 5.0) -> None:
        self.call = call
        #: Longest :meth:`next` and :meth:`code` wait: only reached when something is broken.
        self.timeout = timeout
        self.events: asyncio.Queue[T] = asyncio.Queue()
        self.ended = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start reading in a task of the running loop."""
        self.task = asyncio.get_running_loop().create_task(self._pump())

    async def _pump(self) -> None:
        try:
            while True:
                event = await self.call.read()
                if event is grpc.aio.EOF:
                    return
                self.events.put_nowait(event)
        except grpc.aio.AioRpcError:
            return
        finally:
            self.ended.set()

    async def next(self) -> T:
        """The next response (raises TimeoutError after :attr:`timeout`)."""
        return await asyncio.wait_for(self.events.get(), self.timeout)

    async def code(self) -> grpc.StatusCode:
        """Wait for the stream to end; its final status."""
        await asyncio.wait_for(self.ended.wait(), self.timeout)
        code: grpc.StatusCode = await self.call.code()
        return code

    async def aclose(self) -> None:
        """Cancel the call and wait for the reader to finish."""
        self.call.cancel()
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)


class _Closable(Protocol):
    async def aclose(self) -> None: ...


R = TypeVar("R")


@contextlib.asynccontextmanager
async def running_gateway(
    overrides: Mapping[str, object],
    make: Callable[[Gateway, str, int], R],
    *,
    environ: Mapping[str, str] | None = None,
) -> AsyncIterator[R]:
    """Run a :class:`Gateway` with the settings ``overrides`` (and ``environ``, default none of
    the process's) until the block ends; yields ``make(gateway, host, port)`` for the bound
    listener. Clients the yielded object lists in a ``clients`` attribute are closed first,
    shielded from cancellation, then the gateway stops."""
    gateway = Gateway(overrides=dict(overrides), environ={} if environ is None else environ)
    async with anyio.create_task_group() as tg:
        host, port = await tg.start(functools.partial(gateway.run, handle_signals=False))
        running = make(gateway, host, port)
        try:
            yield running
        finally:
            clients: list[_Closable] = list(getattr(running, "clients", ()))
            with anyio.CancelScope(shield=True):
                for client in clients:
                    await client.aclose()
            gateway.stop()
