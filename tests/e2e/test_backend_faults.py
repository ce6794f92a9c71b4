"""Backends that are slow, not down: the gateway answers within the slow service's deadline
(``<SERVICE>_GRPC_DEADLINE``, short here; the other services keep the suite's GRPC_DEADLINE, so
a loaded machine never fails their calls) and serves the other clients meanwhile.

The boundary: :class:`SlowBackend`, a real ``grpc.aio`` server on loopback serving the real
reference service (auth or character, over SQLite in the test's tmp dir) whose chosen methods
first sleep far longer than that deadline while ``slow`` is set. The gateway reaches it through
``AUTH_SERVICE_ADDR`` / ``CHARACTER_SERVICE_ADDR`` like any remote backend; everything else is
the real gateway with the built-in plugins, driven over TCP by the bot's building blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

import anyio
import grpc.aio
import pytest
from gateway_auth.service import AuthOptions, AuthReferenceService
from gateway_auth.service.passwords import Argon2Params
from gateway_character.service import CharacterReferenceService
from gateway_protos.v1 import auth_pb2_grpc, character_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from gateway_core.bot import steps as flow
from gateway_core.protocol.packets import CreateCharResult, LoginResult
from gateway_core.storage import sqlite_url
from gateway_core.testing import free_port, serve_on_loopback

StartGateway = Any  # the start_gateway fixture (tests/e2e/conftest.py)

pytestmark = pytest.mark.anyio

#: Short, so a test waits on the deadline for fractions of a second.
DEADLINE = 0.3
#: How long a slow method sleeps: far past the deadline and past every client wait
#: (tests/e2e/conftest.py's TIMEOUT), so an answer the client gets cannot be the backend's.
SLOW_FOR = 20.0


class SlowBackend:
    """A reference service whose ``methods`` sleep :data:`SLOW_FOR` seconds first while
    :attr:`slow` is set (the boundary these tests put in place of a healthy backend).

    :attr:`entered` counts the slow calls that reached the backend, so a test knows the
    gateway is waiting on it.
    """

    def __init__(self, service: Any, add: Callable[[Any, grpc.aio.Server], None],
                 methods: Iterable[str]) -> None:
        self.service = service
        self._add = add
        self.methods = frozenset(methods)
        self.slow = False
        self.entered = 0

    def add_to_server(self, server: grpc.aio.Server) -> None:
        self._add(_Delaying(self), server)

    async def start(self) -> None:
        await self.service.start()

    async def stop(self) -> None:
        await self.service.stop()


class _Delaying:
    """The reference servicer, with the backend's slow methods delayed."""

    def __init__(self, backend: SlowBackend) -> None:
        self._backend = backend

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._backend.service.servicer, name)
        if name not in self._backend.methods:
            return method
        backend = self._backend

        async def delayed(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            if backend.slow:
                backend.entered += 1
                await asyncio.sleep(SLOW_FOR)  # cancelled when the caller's deadline passes
            return await method(request, context)

        return delayed


@contextlib.asynccontextmanager
async def slow_auth(tmp_path: Path) -> AsyncIterator[tuple[SlowBackend, str]]:
    """The auth service, with Login slow on demand: (backend, address)."""
    service = AuthReferenceService(
        sqlite_url(tmp_path / "slow-auth.sqlite3"),
        AuthOptions(argon2=Argon2Params(time_cost=1, memory_kib=64, parallelism=1)),
    )
    backend = SlowBackend(service, auth_pb2_grpc.add_AuthServicer_to_server, {"Login"})
    async with serve_on_loopback(backend, "auth") as host:
        yield backend, host.address


@contextlib.asynccontextmanager
async def slow_character(tmp_path: Path) -> AsyncIterator[tuple[SlowBackend, str]]:
    """The character service, with listing and creation slow on demand."""
    service = CharacterReferenceService(sqlite_url(tmp_path / "slow-character.sqlite3"))
    backend = SlowBackend(service, character_pb2_grpc.add_CharacterServicer_to_server,
                          {"ListCharacters", "CreateCharacter"})
    async with serve_on_loopback(backend, "character") as host:
        yield backend, host.address


async def _scrape(url: str) -> str:
    def get() -> str:
        import urllib.request

        with urllib.request.urlopen(url, timeout=5) as response:
            body: bytes = response.read()
        return body.decode()

    return await anyio.to_thread.run_sync(get)


def _grpc_counts(text: str, rpc: str) -> dict[str, float]:
    """gateway_grpc_client_seconds observations of method ``rpc``, by status."""
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (sample.name == "gateway_grpc_client_seconds_count"
                    and sample.labels["method"].endswith(f"/{rpc}")):
                counts[sample.labels["status"]] = sample.value
    return counts


async def _wait_for(condition: Callable[[], bool]) -> None:
    with anyio.fail_after(5):
        while not condition():
            await anyio.sleep(0.01)


async def test_login_on_a_slow_auth_backend_fails_at_the_deadline_while_others_are_served(
    start_gateway: StartGateway, tmp_path: Path
) -> None:
    metrics_port = free_port()
    async with slow_auth(tmp_path) as (backend, address), start_gateway(
        AUTH_SERVICE_ADDR=address, AUTH_GRPC_DEADLINE=DEADLINE, PACKET_METRICS_PORT=metrics_port
    ) as gw:
        await gw.account("sam", "pw")
        waiting = await gw.connect()
        other = await gw.connect()
        backend.slow = True

        login_reply: list[Any] = []

        async def log_in() -> None:
            login_reply.append(await flow.login(waiting, "sam", "pw"))

        async with anyio.create_task_group() as tg:
            tg.start_soon(log_in)
            await _wait_for(lambda: backend.entered == 1)
            # The gateway is waiting on the backend for the first client; the second is
            # answered meanwhile, each round trip before the login's reply.
            for _ in range(3):
                await flow.alive(other)
                await flow.accept(other)
                assert not login_reply
        # An answer, not silence, and not the backend's (it would still be sleeping).
        assert [reply.result for reply in login_reply] == [LoginResult.FAILED]

        assert gw.gateway.metrics_server is not None
        url = f"{gw.gateway.metrics_server.url}/metrics"
        with anyio.fail_after(5):  # the status is recorded as the call ends, in the background
            while "DEADLINE_EXCEEDED" not in _grpc_counts(await _scrape(url), "Login"):
                await anyio.sleep(0.02)
        assert _grpc_counts(await _scrape(url), "Login")["DEADLINE_EXCEEDED"] == 1

        # The backend answers quickly again: the next login on the same connection works.
        backend.slow = False
        reply = await flow.login(waiting, "sam", "pw")
        assert reply.result is LoginResult.OK
        await flow.accept(other)
        counts = _grpc_counts(await _scrape(url), "Login")
        assert counts.get("OK") == 1 and counts["DEADLINE_EXCEEDED"] == 1


async def test_slow_character_backend_gets_an_empty_list_and_failed_create_then_recovers(
    start_gateway: StartGateway, tmp_path: Path
) -> None:
    async with slow_character(tmp_path) as (backend, address), start_gateway(
        CHARACTER_SERVICE_ADDR=address, CHARACTER_GRPC_DEADLINE=DEADLINE
    ) as gw:
        await gw.account("cleo", "pw")
        client, _ = await gw.character_select("cleo", "pw")
        other = await gw.connect()
        backend.slow = True
        assert (await flow.char_list(client)).characters == ()
        assert (await flow.create_character(client, "Cleo")).result is CreateCharResult.FAILED
        assert backend.entered == 2
        await flow.accept(other)

        backend.slow = False
        await gw.create(client, "Cleo")
        listing = await flow.char_list(client)
        assert flow.find_character(listing, "Cleo") is not None
