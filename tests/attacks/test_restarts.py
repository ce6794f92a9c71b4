"""Restarts that used to lock players out: ``gateway serve`` (embedded services) killed with
SIGKILL while a player is in the world and started again on the same data; and a login the
gateway gave up on (the auth service too slow) followed by a retry.

The boundary: every process is real (``gateway serve`` as a subprocess on loopback, SQLite in
the test's tmp dir); the slow auth service is a real ``grpc.aio`` server that delays its
answers in front of the real auth service.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import anyio
import grpc
import pytest
from gateway_protos.v1 import auth_pb2, auth_pb2_grpc

from gateway_core.bot import GameClient
from gateway_core.bot import steps as flow
from gateway_core.protocol.packets import LoginResult
from gateway_core.testing import GATEWAY_TEST_ENV, serve_process

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

TIMEOUT = 10.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def log_in(port: int, username: str, password: str) -> tuple[GameClient, LoginResult]:
    client = await flow.connect("127.0.0.1", port, timeout=TIMEOUT)
    reply = await flow.login(client, username, password)
    return client, LoginResult(reply.result)


async def test_a_killed_gateway_s_players_log_in_again_at_once_after_the_restart(
        tmp_path: Path) -> None:
    env = {**os.environ, **GATEWAY_TEST_ENV, "DATA_DIR": str(tmp_path / "data"),
           "AUTH_CREATE_ACCOUNT_ON_FAIL": "true", "LOG_LEVEL": "warning"}
    async with serve_process(env, tmp_path / "first.log") as first:
        client, result = await log_in(first.port, "alice", "pw")
        assert result is LoginResult.OK
        server = (await flow.channel_list(client, 1)).channels[0].id
        selected = await flow.select_server(client, 1, server)
        world = await flow.connect("127.0.0.1", first.port, timeout=TIMEOUT)
        joined = await flow.join(world, selected.session_id, "pw")
        assert joined.result == 0, joined
        first.kill()  # no goodbye: the session is left in the database
        await client.aclose()
        await world.aclose()
    async with serve_process(env, tmp_path / "second.log") as second:
        with anyio.fail_after(TIMEOUT):
            again, result = await log_in(second.port, "alice", "pw")
        assert result is LoginResult.OK, second.output()
        await again.aclose()


async def test_a_login_the_gateway_gave_up_on_leaves_no_session_and_the_retry_logs_in(
        tmp_path: Path) -> None:
    from gateway_auth.service import AuthOptions, AuthReferenceService
    from gateway_auth.service.passwords import Argon2Params

    from gateway_core.storage import sqlite_url
    from gateway_core.testing import (
        GATEWAY_TEST_SETTINGS,
        RunningGateway,
        running_gateway,
        serve_on_loopback,
    )

    service = AuthReferenceService(sqlite_url(tmp_path / "auth.sqlite3"), AuthOptions(
        argon2=Argon2Params(time_cost=1, memory_kib=64, parallelism=1)))
    sessions = service.servicer._sessions
    real_open = sessions.open_login
    finished = anyio.Event()
    slow = [True]

    async def late(*args: Any) -> Any:
        await anyio.sleep(1.0)
        try:
            return await real_open(*args)
        finally:
            finished.set()

    async def slow_first_open(*args: Any) -> Any:
        # The boundary: the first login's password is checked, then the opening of its session
        # is held past the gateway's deadline and finishes anyway (shielded from the call's
        # cancellation, as a database commit under way is).
        if slow[0]:
            slow[0] = False
            return await asyncio.shield(asyncio.ensure_future(late(*args)))
        return await real_open(*args)

    sessions.open_login = slow_first_open  # type: ignore[method-assign]
    async with serve_on_loopback(service, "auth") as host:
        async with grpc.aio.insecure_channel(host.address) as channel:
            await auth_pb2_grpc.AuthStub(channel).CreateAccount(auth_pb2.CreateAccountRequest(
                username="alice", password_hash=flow.hash_password("pw"), access_level=1))
        settings = {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path / "data"),
                    "AUTH_SERVICE_ADDR": host.address, "GRPC_DEADLINE": 0.5}
        async with running_gateway(settings, RunningGateway) as gateway:
            first = await gateway.connect()
            assert (await flow.login(first, "alice", "pw")).result is LoginResult.FAILED
            with anyio.fail_after(TIMEOUT):
                await finished.wait()  # the service finished the given-up login meanwhile
            retry = await gateway.connect()
            assert (await flow.login(retry, "alice", "pw")).result is LoginResult.OK
