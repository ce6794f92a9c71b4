"""The session part of the reference auth service (:mod:`gateway_auth.service.sessions`):
server select, joins and their binding to the login's password check, phases, touches and ends,
over a real loopback gRPC server and a real SQLite file. Holds across gateways:
``test_session_holds.py``."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import grpc
import pytest
from gateway_protos.v1 import auth_pb2, auth_pb2_grpc

from ..conftest import SESSION_TTL, AuthHarness, serve_auth
from .test_auth_service import (
    OTHER_PW,
    PW,
    create,
    expect_status,
    login,
    to_character_select,
)

pytestmark = pytest.mark.anyio


async def test_select_server_issues_a_fresh_session_id(auth: AuthHarness) -> None:
    await create(auth)
    logged_in = await login(auth)
    selected = await auth.stub.SelectServer(
        auth_pb2.SelectServerRequest(session_id=logged_in.session_id, world_id=1, channel_id=1)
    )
    assert selected.result == auth_pb2.SERVER_SELECT_RESULT_OK
    assert selected.session_id not in (0, logged_in.session_id)
    # The login-phase id is gone.
    await expect_status(
        auth.stub.TouchSession(auth_pb2.TouchSessionRequest(session_id=logged_in.session_id)),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_select_server_with_a_bad_channel(auth: AuthHarness) -> None:
    await create(auth)
    logged_in = await login(auth)
    reply = await auth.stub.SelectServer(
        auth_pb2.SelectServerRequest(session_id=logged_in.session_id, world_id=1, channel_id=7)
    )
    assert reply.result == auth_pb2.SERVER_SELECT_RESULT_INVALID_CHANNEL


async def test_select_server_bad_world_unknown_session_and_twice(auth: AuthHarness) -> None:
    await create(auth)
    logged_in = await login(auth)
    await expect_status(
        auth.stub.SelectServer(
            auth_pb2.SelectServerRequest(session_id=logged_in.session_id, world_id=5, channel_id=1)
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    await expect_status(
        auth.stub.SelectServer(
            auth_pb2.SelectServerRequest(session_id=12345, world_id=1, channel_id=1)
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    selected = await auth.stub.SelectServer(
        auth_pb2.SelectServerRequest(session_id=logged_in.session_id, world_id=1, channel_id=1)
    )
    await expect_status(
        auth.stub.SelectServer(
            auth_pb2.SelectServerRequest(session_id=selected.session_id, world_id=1, channel_id=1)
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
    )


async def test_session_ids_are_unique_among_live_sessions(auth: AuthHarness) -> None:
    ids = set()
    for index in range(20):
        await create(auth, f"user{index}")
        ids.add(await to_character_select(auth, f"user{index}"))
    assert len(ids) == 20 and 0 not in ids


async def test_validate_session_ok_returns_the_session(auth: AuthHarness) -> None:
    user_id = await create(auth, level=3)
    session_id = await to_character_select(auth)
    auth.clock.advance(10)
    reply = await auth.stub.ValidateSession(
        auth_pb2.ValidateSessionRequest(session_id=session_id, password_hash=PW)
    )
    assert reply.result == auth_pb2.JOIN_RESULT_OK
    s = reply.session
    assert (s.session_id, s.user_id, s.username, s.access_level) == (
        session_id,
        user_id,
        "alice",
        3,
    )
    assert s.phase == auth_pb2.SESSION_PHASE_CHARACTER_SELECT
    assert (s.world_id, s.channel_id, s.character_id, s.character_name) == (1, 1, 0, "")
    assert s.expires_at == auth.clock.now + SESSION_TTL


async def test_validate_session_with_wrong_password_or_unknown_id(auth: AuthHarness) -> None:
    await create(auth)
    session_id = await to_character_select(auth)
    for sid, pw in ((session_id, OTHER_PW), (session_id ^ 1, PW), (0, PW)):
        reply = await auth.stub.ValidateSession(
            auth_pb2.ValidateSessionRequest(session_id=sid, password_hash=pw)
        )
        assert reply.result == auth_pb2.JOIN_RESULT_INVALID_PASSWORD


async def test_validate_session_refuses_a_login_phase_session(auth: AuthHarness) -> None:
    await create(auth)
    logged_in = await login(auth)
    reply = await auth.stub.ValidateSession(
        auth_pb2.ValidateSessionRequest(session_id=logged_in.session_id, password_hash=PW)
    )
    assert reply.result == auth_pb2.JOIN_RESULT_INVALID_PASSWORD


async def test_validate_session_after_expiry_times_out(auth: AuthHarness) -> None:
    await create(auth)
    session_id = await to_character_select(auth)
    auth.clock.advance(SESSION_TTL + 1)
    reply = await auth.stub.ValidateSession(
        auth_pb2.ValidateSessionRequest(session_id=session_id, password_hash=PW)
    )
    assert reply.result == auth_pb2.JOIN_RESULT_TIME_OUT


async def test_validate_session_rejects_a_bad_hash(auth: AuthHarness) -> None:
    await expect_status(
        auth.stub.ValidateSession(auth_pb2.ValidateSessionRequest(session_id=1, password_hash="x")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )


async def test_validate_session_answers_failed_when_the_database_fails(auth: AuthHarness) -> None:
    await auth.drop_table("auth_sessions")
    reply = await auth.stub.ValidateSession(
        auth_pb2.ValidateSessionRequest(session_id=1, password_hash=PW)
    )
    assert reply.result == auth_pb2.JOIN_RESULT_FAILED


async def test_phase_moves_to_world_and_back(auth: AuthHarness) -> None:
    await create(auth)
    session_id = await to_character_select(auth)
    world = await auth.stub.SetSessionPhase(
        auth_pb2.SetSessionPhaseRequest(
            session_id=session_id,
            phase=auth_pb2.SESSION_PHASE_WORLD,
            character_id=42,
            character_name="Hero",
        )
    )
    assert world.phase == auth_pb2.SESSION_PHASE_WORLD
    assert (world.character_id, world.character_name) == (42, "Hero")
    joined = await auth.stub.ValidateSession(
        auth_pb2.ValidateSessionRequest(session_id=session_id, password_hash=PW)
    )
    assert joined.session.phase == auth_pb2.SESSION_PHASE_WORLD
    assert joined.session.character_name == "Hero"
    back = await auth.stub.SetSessionPhase(
        auth_pb2.SetSessionPhaseRequest(
            session_id=session_id, phase=auth_pb2.SESSION_PHASE_CHARACTER_SELECT
        )
    )
    assert back.phase == auth_pb2.SESSION_PHASE_CHARACTER_SELECT
    assert (back.character_id, back.character_name) == (0, "")


async def test_phase_change_errors(auth: AuthHarness) -> None:
    await create(auth)
    logged_in = await login(auth)
    to_world = auth_pb2.SetSessionPhaseRequest(
        session_id=logged_in.session_id,
        phase=auth_pb2.SESSION_PHASE_WORLD,
        character_id=1,
        character_name="Hero",
    )
    # A LOGIN-phase session cannot enter the world.
    await expect_status(auth.stub.SetSessionPhase(to_world), grpc.StatusCode.FAILED_PRECONDITION)
    unknown = auth_pb2.SetSessionPhaseRequest()
    unknown.CopyFrom(to_world)
    unknown.session_id = 999
    await expect_status(auth.stub.SetSessionPhase(unknown), grpc.StatusCode.NOT_FOUND)
    for bad in (
        auth_pb2.SetSessionPhaseRequest(session_id=1, phase=auth_pb2.SESSION_PHASE_LOGIN),
        auth_pb2.SetSessionPhaseRequest(session_id=1, phase=auth_pb2.SESSION_PHASE_WORLD),
        auth_pb2.SetSessionPhaseRequest(
            session_id=1, phase=auth_pb2.SESSION_PHASE_WORLD, character_id=1
        ),
        auth_pb2.SetSessionPhaseRequest(
            session_id=1, phase=auth_pb2.SESSION_PHASE_CHARACTER_SELECT, character_id=3
        ),
    ):
        await expect_status(auth.stub.SetSessionPhase(bad), grpc.StatusCode.INVALID_ARGUMENT)


async def test_world_to_another_character_needs_character_select_first(auth: AuthHarness) -> None:
    await create(auth)
    session_id = await to_character_select(auth)
    request = auth_pb2.SetSessionPhaseRequest(
        session_id=session_id,
        phase=auth_pb2.SESSION_PHASE_WORLD,
        character_id=1,
        character_name="A",
    )
    await auth.stub.SetSessionPhase(request)
    await auth.stub.SetSessionPhase(request)  # the same state again is accepted
    request.character_id, request.character_name = 2, "B"
    await expect_status(auth.stub.SetSessionPhase(request), grpc.StatusCode.FAILED_PRECONDITION)


async def test_touch_extends_the_session(auth: AuthHarness) -> None:
    await create(auth)
    session_id = await to_character_select(auth)
    auth.clock.advance(SESSION_TTL - 1)
    touched = await auth.stub.TouchSession(auth_pb2.TouchSessionRequest(session_id=session_id))
    assert touched.expires_at == auth.clock.now + SESSION_TTL
    auth.clock.advance(SESSION_TTL - 1)
    reply = await auth.stub.ValidateSession(
        auth_pb2.ValidateSessionRequest(session_id=session_id, password_hash=PW)
    )
    assert reply.result == auth_pb2.JOIN_RESULT_OK


async def test_touch_of_an_expired_session_is_not_found(auth: AuthHarness) -> None:
    await create(auth)
    session_id = await to_character_select(auth)
    auth.clock.advance(SESSION_TTL + 1)
    await expect_status(
        auth.stub.TouchSession(auth_pb2.TouchSessionRequest(session_id=session_id)),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_end_session_frees_the_account(auth: AuthHarness) -> None:
    await create(auth)
    session_id = await to_character_select(auth)
    ended = await auth.stub.EndSession(auth_pb2.EndSessionRequest(session_id=session_id))
    assert ended.ended
    again = await auth.stub.EndSession(auth_pb2.EndSessionRequest(session_id=session_id))
    assert not again.ended
    assert (await login(auth)).result == auth_pb2.LOGIN_RESULT_OK


async def test_sessions_survive_a_service_restart(tmp_path: Path) -> None:
    async with serve_auth(tmp_path) as (_service, address, _clock):
        async with grpc.aio.insecure_channel(address) as channel:
            from gateway_protos.v1 import auth_pb2_grpc

            stub = auth_pb2_grpc.AuthStub(channel)
            await stub.CreateAccount(
                auth_pb2.CreateAccountRequest(username="alice", password_hash=PW, access_level=1)
            )
            logged_in = await stub.Login(auth_pb2.LoginRequest(username="alice", password_hash=PW))
            selected = await stub.SelectServer(
                auth_pb2.SelectServerRequest(
                    session_id=logged_in.session_id, world_id=1, channel_id=1
                )
            )
    async with serve_auth(tmp_path) as (_service, address, _clock):
        async with grpc.aio.insecure_channel(address) as channel:
            stub = auth_pb2_grpc.AuthStub(channel)
            reply = await stub.ValidateSession(
                auth_pb2.ValidateSessionRequest(session_id=selected.session_id, password_hash=PW)
            )
            assert reply.result == auth_pb2.JOIN_RESULT_OK


# -- the join binding: argon2 once per login, never per join ------------------------------


async def test_joins_check_the_login_binding_without_argon2(auth: AuthHarness) -> None:
    await create(auth)
    passwords = auth.service.servicer.passwords
    session_id = await to_character_select(auth)
    after_login = passwords.operations
    cases = (
        (PW, auth_pb2.JOIN_RESULT_OK),
        (OTHER_PW, auth_pb2.JOIN_RESULT_INVALID_PASSWORD),
        (PW.upper(), auth_pb2.JOIN_RESULT_OK),
    )
    for pw, result in cases:
        reply = await auth.stub.ValidateSession(
            auth_pb2.ValidateSessionRequest(session_id=session_id, password_hash=pw)
        )
        assert reply.result == result
    assert passwords.operations == after_login


async def test_the_session_keeps_a_keyed_binding_not_the_client_hash(auth: AuthHarness) -> None:
    await create(auth)
    await to_character_select(auth)
    [(binding,)] = await auth.sql("SELECT password_binding FROM auth_sessions")
    assert binding and PW not in binding
    assert hashlib.sha256(PW.encode()).hexdigest() not in binding


async def test_after_a_restart_a_join_verifies_with_argon2_once(tmp_path: Path) -> None:
    async with serve_auth(tmp_path) as (_service, address, _clock):
        async with grpc.aio.insecure_channel(address) as channel:
            h = AuthHarness(auth_pb2_grpc.AuthStub(channel), _clock, _service, tmp_path)
            await create(h)
            session_id = await to_character_select(h)
    async with serve_auth(tmp_path) as (service, address, _clock):
        async with grpc.aio.insecure_channel(address) as channel:
            stub = auth_pb2_grpc.AuthStub(channel)
            join = auth_pb2.ValidateSessionRequest(session_id=session_id, password_hash=PW)
            wrong = auth_pb2.ValidateSessionRequest(session_id=session_id, password_hash=OTHER_PW)
            assert (await stub.ValidateSession(wrong)).result == (
                auth_pb2.JOIN_RESULT_INVALID_PASSWORD
            )
            assert (await stub.ValidateSession(join)).result == auth_pb2.JOIN_RESULT_OK
            verified = service.servicer.passwords.operations
            assert (await stub.ValidateSession(join)).result == auth_pb2.JOIN_RESULT_OK
            assert (await stub.ValidateSession(wrong)).result == (
                auth_pb2.JOIN_RESULT_INVALID_PASSWORD
            )
            assert service.servicer.passwords.operations == verified  # re-bound: no argon2


async def test_a_database_of_the_earlier_schema_gets_the_binding_column(tmp_path: Path) -> None:
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
                created_at FLOAT NOT NULL, expires_at FLOAT NOT NULL);
            """
        )
    async with serve_auth(tmp_path) as (service, address, clock):
        async with grpc.aio.insecure_channel(address) as channel:
            h = AuthHarness(auth_pb2_grpc.AuthStub(channel), clock, service, tmp_path)
            await create(h)
            session_id = await to_character_select(h)
            reply = await h.stub.ValidateSession(
                auth_pb2.ValidateSessionRequest(session_id=session_id, password_hash=PW)
            )
            assert reply.result == auth_pb2.JOIN_RESULT_OK
