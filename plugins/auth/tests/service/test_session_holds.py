"""Session life across gateways: holds, leases and releases of the reference auth service,
over a real loopback gRPC server and a real SQLite file (the clock is moved by hand)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import grpc
import pytest
from gateway_protos.v1 import auth_pb2, auth_pb2_grpc

from ..conftest import SESSION_TTL, AuthHarness, serve_auth
from .test_auth_service import PW, create, expect_status, login, to_character_select

pytestmark = pytest.mark.anyio


async def join(h: AuthHarness, session_id: int, gateway: str) -> None:
    reply = await h.stub.ValidateSession(
        auth_pb2.ValidateSessionRequest(session_id=session_id, password_hash=PW,
                                        gateway_id=gateway)
    )
    assert reply.result == auth_pb2.JOIN_RESULT_OK


async def release(h: AuthHarness, session_id: int, gateway: str) -> auth_pb2.ReleaseSessionReply:
    return await h.stub.ReleaseSession(
        auth_pb2.ReleaseSessionRequest(session_id=session_id, gateway_id=gateway)
    )


async def touch(h: AuthHarness, session_id: int, gateway: str) -> None:
    await h.stub.TouchSession(
        auth_pb2.TouchSessionRequest(session_id=session_id, gateway_id=gateway)
    )


async def is_live(h: AuthHarness, session_id: int) -> bool:
    try:
        await h.stub.TouchSession(auth_pb2.TouchSessionRequest(session_id=session_id))
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.NOT_FOUND
        return False
    return True


async def test_a_session_held_by_two_gateways_survives_one_release(auth: AuthHarness) -> None:
    await create(auth)
    session_id = await to_character_select(auth)
    await join(auth, session_id, "gateway-a")  # character leg on A
    await join(auth, session_id, "gateway-b")  # world leg on B

    first = await release(auth, session_id, "gateway-a")
    assert (first.ended, first.holders) == (False, 1)
    assert await is_live(auth, session_id)
    assert (await login(auth)).result == auth_pb2.LOGIN_RESULT_ALREADY_LOGGEDIN

    second = await release(auth, session_id, "gateway-b")
    assert (second.ended, second.holders) == (True, 0)
    assert not await is_live(auth, session_id)
    assert (await login(auth)).result == auth_pb2.LOGIN_RESULT_OK


async def test_a_single_gateway_release_ends_the_session(auth: AuthHarness) -> None:
    await create(auth)
    session_id = await to_character_select(auth)
    await join(auth, session_id, "gateway-a")
    await touch(auth, session_id, "gateway-a")
    assert (await release(auth, session_id, "gateway-a")).ended
    assert (await login(auth)).result == auth_pb2.LOGIN_RESULT_OK


async def test_releasing_a_session_never_held_ends_it_when_nobody_holds_it(
    auth: AuthHarness,
) -> None:
    await create(auth)
    session_id = await to_character_select(auth)
    assert (await release(auth, session_id, "gateway-a")).ended
    again = await release(auth, session_id, "gateway-a")
    assert (again.ended, again.holders) == (False, 0)


async def test_an_expired_lease_does_not_keep_a_session_alive(auth: AuthHarness) -> None:
    await create(auth)
    session_id = await to_character_select(auth)
    await join(auth, session_id, "gateway-a")
    await join(auth, session_id, "gateway-b")  # B then crashes: it never touches again
    auth.clock.advance(SESSION_TTL - 1)
    await touch(auth, session_id, "gateway-a")
    auth.clock.advance(2)  # B's lease is over, A's and the session's are not
    assert await is_live(auth, session_id)
    reply = await release(auth, session_id, "gateway-a")
    assert (reply.ended, reply.holders) == (True, 0)
    assert (await login(auth)).result == auth_pb2.LOGIN_RESULT_OK


async def test_touches_renew_a_gateways_lease(auth: AuthHarness) -> None:
    await create(auth)
    session_id = await to_character_select(auth)
    await join(auth, session_id, "gateway-a")
    await join(auth, session_id, "gateway-b")
    for _ in range(3):  # well past B's first lease
        auth.clock.advance(SESSION_TTL - 1)
        await touch(auth, session_id, "gateway-b")
    reply = await release(auth, session_id, "gateway-a")
    assert (reply.ended, reply.holders) == (False, 1)


async def test_logout_ends_a_session_whoever_holds_it(auth: AuthHarness) -> None:
    await create(auth)
    session_id = await to_character_select(auth)
    await join(auth, session_id, "gateway-a")
    await join(auth, session_id, "gateway-b")
    ended = await auth.stub.EndSession(auth_pb2.EndSessionRequest(session_id=session_id))
    assert ended.ended
    assert not await is_live(auth, session_id)
    assert (await login(auth)).result == auth_pb2.LOGIN_RESULT_OK
    assert await auth.sql("SELECT COUNT(*) FROM auth_session_holds") == [(0,)]


async def test_a_ban_ends_a_held_session(auth: AuthHarness) -> None:
    await create(auth)
    session_id = await to_character_select(auth)
    await join(auth, session_id, "gateway-a")
    await auth.stub.SetBanned(auth_pb2.SetBannedRequest(username="alice", banned=True))
    assert not await is_live(auth, session_id)


async def test_the_holder_comes_from_the_gateway_id_metadata(auth: AuthHarness) -> None:
    await create(auth)
    session_id = await to_character_select(auth)
    await auth.stub.ValidateSession(
        auth_pb2.ValidateSessionRequest(session_id=session_id, password_hash=PW),
        metadata=(("x-gateway-id", "gateway-b"),),
    )
    await join(auth, session_id, "gateway-a")
    reply = await auth.stub.ReleaseSession(
        auth_pb2.ReleaseSessionRequest(session_id=session_id),
        metadata=(("x-gateway-id", "gateway-a"),),
    )
    assert (reply.ended, reply.holders) == (False, 1)
    assert (await release(auth, session_id, "gateway-b")).ended


async def test_release_needs_a_holder(auth: AuthHarness) -> None:
    await create(auth)
    session_id = await to_character_select(auth)
    await expect_status(
        auth.stub.ReleaseSession(auth_pb2.ReleaseSessionRequest(session_id=session_id)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    await expect_status(
        auth.stub.TouchSession(
            auth_pb2.TouchSessionRequest(session_id=session_id, gateway_id="x" * 65)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert await is_live(auth, session_id)


async def test_a_database_of_the_earlier_schema_gets_the_holds_table(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "auth.sqlite3") as db:
        db.executescript(
            """
            CREATE TABLE auth_accounts (id INTEGER PRIMARY KEY AUTOINCREMENT,
                username VARCHAR(64) NOT NULL, username_key VARCHAR(64) NOT NULL UNIQUE,
                password_hash VARCHAR(255) NOT NULL, access_level INTEGER NOT NULL,
                banned BOOLEAN NOT NULL, created_at FLOAT NOT NULL, last_login_at FLOAT NOT NULL);
            CREATE TABLE auth_sessions (id INTEGER NOT NULL PRIMARY KEY,
                account_id INTEGER NOT NULL REFERENCES auth_accounts (id) ON DELETE CASCADE,
                phase INTEGER NOT NULL, world_id INTEGER NOT NULL, channel_id INTEGER NOT NULL,
                character_id INTEGER NOT NULL, character_name VARCHAR(64) NOT NULL,
                created_at FLOAT NOT NULL, expires_at FLOAT NOT NULL,
                password_binding VARCHAR(96) NOT NULL DEFAULT '');
            """
        )
    async with serve_auth(tmp_path) as (service, address, clock):
        async with grpc.aio.insecure_channel(address) as channel:
            h = AuthHarness(auth_pb2_grpc.AuthStub(channel), clock, service,
                            tmp_path / "auth.sqlite3")
            await create(h)
            session_id = await to_character_select(h)
            await join(h, session_id, "gateway-a")
            await join(h, session_id, "gateway-b")
            assert not (await release(h, session_id, "gateway-a")).ended
            assert (await release(h, session_id, "gateway-b")).ended


# -- sessions no live gateway carries ------------------------------------------------------


async def watch(h: AuthHarness, gateway: str, started_at: float = 0.0) -> grpc.aio.Call:
    """Open gateway's account stream; returns the call once the service says it watches."""
    call = h.stub.WatchAccounts(auth_pb2.WatchAccountsRequest(gateway_id=gateway,
                                                              started_at=started_at))
    first = await call.read()
    assert first.HasField("watching")
    return call


async def test_a_login_takes_over_a_session_whose_holds_all_lapsed(auth: AuthHarness) -> None:
    await create(auth)
    session_id = await to_character_select(auth)
    await join(auth, session_id, "gateway-a")  # A then dies: it never touches again
    assert (await login(auth)).result == auth_pb2.LOGIN_RESULT_ALREADY_LOGGEDIN
    auth.clock.advance(auth.service.options.hold_lease + 1)  # the session itself still lives
    assert (await login(auth)).result == auth_pb2.LOGIN_RESULT_OK
    assert not await is_live(auth, session_id)


async def test_a_fresh_login_without_holds_is_not_taken_over(auth: AuthHarness) -> None:
    await create(auth)
    assert (await login(auth)).result == auth_pb2.LOGIN_RESULT_OK
    assert (await login(auth)).result == auth_pb2.LOGIN_RESULT_ALREADY_LOGGEDIN
    auth.clock.advance(auth.service.options.hold_lease + 1)  # never touched by any gateway
    assert (await login(auth)).result == auth_pb2.LOGIN_RESULT_OK


async def test_a_gateway_whose_account_stream_ended_holds_nothing(auth: AuthHarness) -> None:
    auth.service.servicer.watch_grace = 0.0
    await create(auth)
    call = await watch(auth, "gateway-a")
    session_id = await to_character_select(auth)
    await join(auth, session_id, "gateway-a")
    assert (await login(auth)).result == auth_pb2.LOGIN_RESULT_ALREADY_LOGGEDIN
    call.cancel()  # the gateway process is killed: its stream breaks
    for _ in range(200):
        if auth.service.servicer.watchers.gone("gateway-a", 0.0):
            break
        await asyncio.sleep(0.01)
    assert (await login(auth)).result == auth_pb2.LOGIN_RESULT_OK


async def test_a_restarted_gateway_releases_the_holds_of_its_previous_process(
        auth: AuthHarness) -> None:
    await create(auth)
    await create(auth, "bob")
    alice = await to_character_select(auth)
    await join(auth, alice, "gateway-a")
    bob = await to_character_select(auth, "bob")
    await join(auth, bob, "gateway-a")
    await join(auth, bob, "gateway-b")  # bob is carried by another live gateway too
    auth.clock.advance(5)
    call = await watch(auth, "gateway-a", started_at=auth.clock.now - 1)  # the new process
    assert not await is_live(auth, alice)
    assert await is_live(auth, bob)
    assert (await login(auth)).result == auth_pb2.LOGIN_RESULT_OK
    call.cancel()


async def world_join(h: AuthHarness, session_id: int, gateway: str,
                     connection: str) -> int:
    reply = await h.stub.ValidateSession(auth_pb2.ValidateSessionRequest(
        session_id=session_id, password_hash=PW, gateway_id=gateway,
        world_connection=connection))
    return int(reply.result)


async def in_world(h: AuthHarness) -> int:
    session_id = await to_character_select(h)
    await h.stub.SetSessionPhase(auth_pb2.SetSessionPhaseRequest(
        session_id=session_id, phase=auth_pb2.SESSION_PHASE_WORLD, character_id=7,
        character_name="Alice"))
    return session_id


async def test_one_world_connection_per_session(auth: AuthHarness) -> None:
    auth.service.servicer.watch_grace = 0.0
    await create(auth)
    session_id = await in_world(auth)
    assert await world_join(auth, session_id, "gateway-a", "c1") == auth_pb2.JOIN_RESULT_OK
    assert await world_join(auth, session_id, "gateway-a", "c1") == auth_pb2.JOIN_RESULT_OK
    # Another connection, on the same gateway or another one, while c1 plays: refused.
    assert await world_join(auth, session_id, "gateway-a", "c2") == auth_pb2.JOIN_RESULT_FAILED
    assert await world_join(auth, session_id, "gateway-b", "c1") == auth_pb2.JOIN_RESULT_FAILED
    released = await auth.stub.ReleaseWorld(auth_pb2.ReleaseWorldRequest(
        session_id=session_id, world_connection="c1", gateway_id="gateway-a"))
    assert released.released
    assert await world_join(auth, session_id, "gateway-b", "c9") == auth_pb2.JOIN_RESULT_OK
    # gateway-b dies (its account stream ends): its world connection counts for nothing.
    call = await watch(auth, "gateway-b")
    call.cancel()
    for _ in range(200):
        if auth.service.servicer.watchers.gone("gateway-b", 0.0):
            break
        await asyncio.sleep(0.01)
    assert await world_join(auth, session_id, "gateway-a", "c3") == auth_pb2.JOIN_RESULT_OK
