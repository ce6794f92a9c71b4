"""Shared fixtures of the core tests: a real gateway on 127.0.0.1 and real TCP clients."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import anyio.abc
import pytest

from gateway_core.app import Gateway
from gateway_core.plugins import GatewayPluginManager
from gateway_core.protocol.connection import NEED_DATA, ProtocolConnection, Role
from gateway_core.protocol.errors import RemoteProtocolError

# Settings every test gateway starts from: loopback, ephemeral port, no metrics port, no
# installed plugins (each test registers its own), short timeouts.
TEST_SETTINGS: dict[str, object] = {
    "LISTEN_ADDR": "127.0.0.1",
    "SERVICE_PORT": 0,
    "PACKET_METRICS_PORT": 0,
    "GATEWAY_LOAD_PLUGINS": (),
    "SHUTDOWN_DEADLINE": 2.0,
}


@pytest.fixture
def anyio_backend() -> str:
    """The gateway's transport runs on asyncio (see gateway_core.server's Strategy)."""
    return "asyncio"


class TestClient:
    """A game client over a real TCP connection, speaking through a client-role
    ProtocolConnection."""

    __test__ = False

    def __init__(self, stream: anyio.abc.SocketStream) -> None:
        self.stream = stream
        self.proto = ProtocolConnection(Role.CLIENT)
        self.eof = False

    async def send(self, *packets: Any) -> None:
        """All packets in one write."""
        await self.stream.send(b"".join(self.proto.send(p) for p in packets))

    async def send_raw(self, data: bytes) -> None:
        await self.stream.send(data)

    async def receive(self, count: int = 1, timeout: float = 3.0) -> list[Any]:
        """The next ``count`` packets (fails the test on timeout)."""
        out: list[Any] = []
        with anyio.fail_after(timeout):
            while len(out) < count:
                event = self.proto.next_event()
                if event is NEED_DATA:
                    try:
                        data = await self.stream.receive(65536)
                    except (anyio.EndOfStream, anyio.BrokenResourceError) as exc:
                        raise AssertionError(f"closed after {len(out)} packets: {out}") from exc
                    self.proto.receive_data(data)
                    continue
                out.append(event)
        return out

    async def closed_by_server(self, timeout: float = 3.0) -> list[Any]:
        """Wait for the server to close the connection; returns packets received before."""
        out: list[Any] = []
        with anyio.fail_after(timeout):
            while True:
                try:
                    data = await self.stream.receive(65536)
                except (anyio.EndOfStream, anyio.BrokenResourceError, ConnectionError):
                    self.eof = True
                    return out
                self.proto.receive_data(data)
                while True:
                    try:
                        event = self.proto.next_event()
                    except RemoteProtocolError:
                        break
                    if event is NEED_DATA:
                        break
                    out.append(event)

    async def aclose(self) -> None:
        await self.stream.aclose()


GatewayFactory = Callable[..., contextlib.AbstractAsyncContextManager[Gateway]]


@pytest.fixture
def gateway() -> GatewayFactory:
    """``async with gateway(plugin_or_(plugin, name), ..., SETTING=value) as gw:`` runs a
    Gateway with the test plugins registered; they are unregistered in ``finally``."""

    @contextlib.asynccontextmanager
    async def factory(*plugins: Any, **overrides: object) -> AsyncIterator[Gateway]:
        pm = GatewayPluginManager()
        names: list[str] = []
        for item in plugins:
            plugin, name = item if isinstance(item, tuple) else (item, type(item).__name__)
            pm.register(plugin, name)
            names.append(name)
        try:
            gw = Gateway(overrides={**TEST_SETTINGS, **overrides}, environ={}, pm=pm)
            async with anyio.create_task_group() as tg:
                await tg.start(functools.partial(gw.run, handle_signals=False))
                try:
                    yield gw
                finally:
                    gw.stop()
        finally:
            for name in names:
                if pm.get_plugin(name) is not None:
                    pm.unregister(name=name)

    return factory


@pytest.fixture
def connect() -> Callable[[Gateway], contextlib.AbstractAsyncContextManager[TestClient]]:
    """``async with connect(gw) as client:`` a real TCP client of ``gw``."""

    @contextlib.asynccontextmanager
    async def factory(gw: Gateway) -> AsyncIterator[TestClient]:
        host, port = gw.address
        stream = await anyio.connect_tcp(host, port)
        client = TestClient(stream)
        try:
            yield client
        finally:
            await client.aclose()

    return factory
