"""The reference auth service over a real loopback gRPC server and a real SQLite file."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from pathlib import Path

import grpc
import pytest
from gateway_auth.service import AuthOptions
from gateway_auth.service.options import ChannelConfig, WorldConfig
from gateway_auth.service.passwords import Argon2Params, client_password_hash
from gateway_protos.v1 import auth_pb2, auth_pb2_grpc

from ..conftest import FAST_ARGON2, SESSION_TTL, AuthHarness, serve_auth

pytestmark = pytest.mark.anyio

PW = client_password_hash("secret")
OTHER_PW = client_password_hash("not-the-secret")


async def create(h: AuthHarness, name: str = "alice", pw: str = PW, level: int = 1) -> int:
    account = await h.stub.CreateAccount(
        auth_pb2.CreateAccountRequest(username=name, password_hash=pw, access_level=level)
    )
    return account.user_id


async def login(h: AuthHarness, name: str = "alice", pw: str = PW) -> auth_pb2.LoginReply:
    return await h.stub.Login(auth_pb2.LoginRequest(username=name, password_hash=pw))


async def to_character_select(h: AuthHarness, name: str = "alice") -> int:
    reply = await login(h, name)
    assert reply.result == auth_pb2.LOGIN_RESULT_OK
    selected = await h.stub.SelectServer(
        auth_pb2.SelectServerRequest(session_id=reply.session_id, world_id=1, channel_id=1)
    )
    assert selected.result == auth_pb2.SERVER_SELECT_RESULT_OK
    return selected.session_id


async def expect_status(call: object, code: grpc.StatusCode) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call  # type: ignore[misc]
    assert info.value.code() == code
    details = info.value.details()
    assert details
    return details


def test_result_values_match_the_packet_enums() -> None:
    assert auth_pb2.LOGIN_RESULT_OK == 0
    assert auth_pb2.LOGIN_RESULT_FAILED == 1
    assert auth_pb2.LOGIN_RESULT_UNKNOWN_ACCOUNT == 2
    assert auth_pb2.LOGIN_RESULT_INVALID_PASSWORD == 3
    assert auth_pb2.LOGIN_RESULT_ALREADY_LOGGEDIN == 4
    assert auth_pb2.LOGIN_RESULT_NO_RIGHT_TO_CONNECT == 7
    assert auth_pb2.SERVER_SELECT_RESULT_INVALID_CHANNEL == 3
    assert auth_pb2.JOIN_RESULT_TIME_OUT == 2
    assert auth_pb2.JOIN_RESULT_INVALID_PASSWORD == 3


def test_client_password_hash_is_lowercase_sha256_hex() -> None:
    assert client_password_hash("admin") == hashlib.sha256(b"admin").hexdigest()
    assert client_password_hash("admin").startswith("8c6976e5")


# -- accounts ------------------------------------------------------------------------------


async def test_create_account_returns_the_account(auth: AuthHarness) -> None:
    account = await auth.stub.CreateAccount(
        auth_pb2.CreateAccountRequest(username="Alice", password_hash=PW, access_level=2)
    )
    assert account.user_id > 0
    assert account.username == "Alice"
    assert account.access_level == 2
    assert not account.banned and not account.online
    assert account.created_at == int(auth.clock.now)


async def test_create_account_stores_an_argon2id_hash_not_the_password(auth: AuthHarness) -> None:
    await create(auth)
    with sqlite3.connect(auth.db_path) as db:
        (stored,) = db.execute("SELECT password_hash FROM auth_accounts").fetchone()
    assert stored.startswith("$argon2id$")
    assert PW not in stored


async def test_create_account_rejects_a_taken_name_ignoring_case(auth: AuthHarness) -> None:
    await create(auth, "alice")
    await expect_status(
        auth.stub.CreateAccount(
            auth_pb2.CreateAccountRequest(username="ALICE", password_hash=PW, access_level=1)
        ),
        grpc.StatusCode.ALREADY_EXISTS,
    )


@pytest.mark.parametrize(
    ("username", "pw", "level"),
    [
        ("", PW, 1),
        ("x" * 33, PW, 1),
        ("bad name", PW, 1),
        ("alice", "", 1),
        ("alice", "abc", 1),
        ("alice", "g" * 64, 1),
        ("alice", PW, 70000),
    ],
)
async def test_create_account_rejects_bad_arguments(
    auth: AuthHarness, username: str, pw: str, level: int
) -> None:
    await expect_status(
        auth.stub.CreateAccount(
            auth_pb2.CreateAccountRequest(username=username, password_hash=pw, access_level=level)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )


async def test_list_accounts_pages_by_id_and_shows_online(auth: AuthHarness) -> None:
    for name in ("a1", "a2", "a3"):
        await create(auth, name)
    await login(auth, "a2")
    listed = await auth.stub.ListAccounts(auth_pb2.ListAccountsRequest())
    assert [a.username for a in listed.accounts] == ["a1", "a2", "a3"]
    assert [a.online for a in listed.accounts] == [False, True, False]
    assert listed.total == 3
    page = await auth.stub.ListAccounts(auth_pb2.ListAccountsRequest(offset=1, limit=1))
    assert [a.username for a in page.accounts] == ["a2"]
    assert page.total == 3
    await expect_status(
        auth.stub.ListAccounts(auth_pb2.ListAccountsRequest(limit=5000)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )


async def test_set_access_level_changes_it(auth: AuthHarness) -> None:
    await create(auth)
    account = await auth.stub.SetAccessLevel(
        auth_pb2.SetAccessLevelRequest(username="ALICE", access_level=300)
    )
    assert account.access_level == 300
    assert (await login(auth)).access_level == 300


async def test_set_access_level_of_unknown_account_is_not_found(auth: AuthHarness) -> None:
    await expect_status(
        auth.stub.SetAccessLevel(auth_pb2.SetAccessLevelRequest(username="nobody")),
        grpc.StatusCode.NOT_FOUND,
    )
    await expect_status(
        auth.stub.SetAccessLevel(auth_pb2.SetAccessLevelRequest(username="")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    await create(auth)
    await expect_status(
        auth.stub.SetAccessLevel(
            auth_pb2.SetAccessLevelRequest(username="alice", access_level=1 << 20)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )


async def test_ban_refuses_login_and_ends_sessions_unban_restores(auth: AuthHarness) -> None:
    await create(auth)
    session_id = await to_character_select(auth)
    banned = await auth.stub.SetBanned(auth_pb2.SetBannedRequest(username="alice", banned=True))
    assert banned.banned and not banned.online
    joined = await auth.stub.ValidateSession(
        auth_pb2.ValidateSessionRequest(session_id=session_id, password_hash=PW)
    )
    assert joined.result == auth_pb2.JOIN_RESULT_INVALID_PASSWORD
    assert (await login(auth)).result == auth_pb2.LOGIN_RESULT_NO_RIGHT_TO_CONNECT
    await auth.stub.SetBanned(auth_pb2.SetBannedRequest(username="alice", banned=False))
    assert (await login(auth)).result == auth_pb2.LOGIN_RESULT_OK


async def test_set_banned_of_unknown_account_is_not_found(auth: AuthHarness) -> None:
    await expect_status(
        auth.stub.SetBanned(auth_pb2.SetBannedRequest(username="nobody", banned=True)),
        grpc.StatusCode.NOT_FOUND,
    )


# -- login ---------------------------------------------------------------------------------


async def test_login_ok_opens_a_login_session(auth: AuthHarness) -> None:
    user_id = await create(auth, "Alice", level=5)
    reply = await login(auth, "alice")
    assert reply.result == auth_pb2.LOGIN_RESULT_OK
    assert (reply.user_id, reply.username, reply.access_level) == (user_id, "Alice", 5)
    assert reply.session_id != 0


async def test_login_accepts_uppercase_hex(auth: AuthHarness) -> None:
    await create(auth)
    assert (await login(auth, pw=PW.upper())).result == auth_pb2.LOGIN_RESULT_OK


async def test_login_of_unknown_account(auth: AuthHarness) -> None:
    assert (await login(auth, "ghost")).result == auth_pb2.LOGIN_RESULT_UNKNOWN_ACCOUNT


async def test_login_with_wrong_password(auth: AuthHarness) -> None:
    await create(auth)
    assert (await login(auth, pw=OTHER_PW)).result == auth_pb2.LOGIN_RESULT_INVALID_PASSWORD


async def test_second_login_of_an_online_account_is_refused(auth: AuthHarness) -> None:
    await create(auth)
    assert (await login(auth)).result == auth_pb2.LOGIN_RESULT_OK
    assert (await login(auth)).result == auth_pb2.LOGIN_RESULT_ALREADY_LOGGEDIN


async def test_login_is_possible_again_after_the_session_expires(auth: AuthHarness) -> None:
    await create(auth)
    await login(auth)
    auth.clock.advance(SESSION_TTL + 1)
    assert (await login(auth)).result == auth_pb2.LOGIN_RESULT_OK


async def test_login_with_access_level_zero_has_no_right(auth: AuthHarness) -> None:
    await create(auth, level=0)
    assert (await login(auth)).result == auth_pb2.LOGIN_RESULT_NO_RIGHT_TO_CONNECT


async def test_no_right_is_only_revealed_with_the_right_password(auth: AuthHarness) -> None:
    await create(auth, level=0)
    assert (await login(auth, pw=OTHER_PW)).result == auth_pb2.LOGIN_RESULT_INVALID_PASSWORD


@pytest.mark.parametrize(
    ("username", "pw"),
    [
        ("", PW),
        ("x" * 65, PW),
        ("a\x00b", PW),
        ("alice", ""),
        ("alice", PW[:63]),
        ("alice", "z" * 64),
    ],
)
async def test_login_rejects_bad_arguments(auth: AuthHarness, username: str, pw: str) -> None:
    await expect_status(login(auth, username, pw), grpc.StatusCode.INVALID_ARGUMENT)


async def test_login_creates_the_account_on_fail_when_configured(tmp_path: Path) -> None:
    options = AuthOptions(session_ttl=SESSION_TTL, argon2=FAST_ARGON2, create_account_on_fail=True)
    async with serve_auth(tmp_path, options) as (_service, address, _clock):
        async with grpc.aio.insecure_channel(address) as channel:
            from gateway_protos.v1 import auth_pb2_grpc

            stub = auth_pb2_grpc.AuthStub(channel)
            first = await stub.Login(auth_pb2.LoginRequest(username="newbie", password_hash=PW))
            assert first.result == auth_pb2.LOGIN_RESULT_OK
            assert first.access_level == 1
            await stub.EndSession(auth_pb2.EndSessionRequest(session_id=first.session_id))
            wrong = await stub.Login(
                auth_pb2.LoginRequest(username="newbie", password_hash=OTHER_PW)
            )
            assert wrong.result == auth_pb2.LOGIN_RESULT_INVALID_PASSWORD


async def test_login_answers_failed_when_the_database_fails(auth: AuthHarness) -> None:
    await create(auth)
    # The boundary replaced here: the database file's tables vanish under the service.
    with sqlite3.connect(auth.db_path) as db:
        db.execute("DROP TABLE auth_sessions")
    assert (await login(auth)).result == auth_pb2.LOGIN_RESULT_FAILED


async def test_admin_rpc_answers_internal_when_the_database_fails(auth: AuthHarness) -> None:
    with sqlite3.connect(auth.db_path) as db:
        db.execute("DROP TABLE auth_sessions")
    await expect_status(
        auth.stub.ListAccounts(auth_pb2.ListAccountsRequest()), grpc.StatusCode.INTERNAL
    )


# -- worlds --------------------------------------------------------------------------------


async def test_list_worlds_gives_the_default_world(auth: AuthHarness) -> None:
    reply = await auth.stub.ListWorlds(auth_pb2.ListWorldsRequest())
    assert [(w.id, w.name, w.test) for w in reply.worlds] == [(1, "rose-gateway", False)]
    assert [(c.id, c.name) for c in reply.worlds[0].channels] == [(1, "channel-1")]


async def test_list_channels_of_a_world_and_of_an_unknown_one(auth: AuthHarness) -> None:
    reply = await auth.stub.ListChannels(auth_pb2.ListChannelsRequest(world_id=1))
    assert reply.world_id == 1
    assert [c.id for c in reply.channels] == [1]
    await expect_status(
        auth.stub.ListChannels(auth_pb2.ListChannelsRequest(world_id=9)),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_worlds_come_from_the_options(tmp_path: Path) -> None:
    world = WorldConfig(1, "test-realm", True, (ChannelConfig(1, "one"), ChannelConfig(2, "two")))
    options = AuthOptions(argon2=FAST_ARGON2, worlds=(world,))
    async with serve_auth(tmp_path, options) as (_service, address, _clock):
        async with grpc.aio.insecure_channel(address) as channel:
            from gateway_protos.v1 import auth_pb2_grpc

            stub = auth_pb2_grpc.AuthStub(channel)
            reply = await stub.ListWorlds(auth_pb2.ListWorldsRequest())
            assert reply.worlds[0].name == "test-realm" and reply.worlds[0].test
            assert [c.name for c in reply.worlds[0].channels] == ["one", "two"]


# -- sessions ------------------------------------------------------------------------------


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
    with sqlite3.connect(auth.db_path) as db:
        db.execute("DROP TABLE auth_sessions")
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


# -- argon2 cost: once per login, bounded, deadline-aware ----------------------------------


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
    with sqlite3.connect(auth.db_path) as db:
        (binding,) = db.execute("SELECT password_binding FROM auth_sessions").fetchone()
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


async def test_login_rehashes_a_hash_made_with_other_parameters(tmp_path: Path) -> None:
    db_path = tmp_path / "auth.sqlite3"
    async with serve_auth(tmp_path) as (service, address, clock):
        async with grpc.aio.insecure_channel(address) as channel:
            await create(AuthHarness(auth_pb2_grpc.AuthStub(channel), clock, service, db_path))
    with sqlite3.connect(db_path) as db:
        (before,) = db.execute("SELECT password_hash FROM auth_accounts").fetchone()
    assert "$m=64,t=1,p=1$" in before
    stronger = AuthOptions(
        session_ttl=SESSION_TTL, argon2=Argon2Params(time_cost=2, memory_kib=128, parallelism=1)
    )
    async with serve_auth(tmp_path, stronger) as (service, address, clock):
        async with grpc.aio.insecure_channel(address) as channel:
            h = AuthHarness(auth_pb2_grpc.AuthStub(channel), clock, service, db_path)
            session_id = await to_character_select(h)  # the old hash still verifies
            reply = await h.stub.ValidateSession(
                auth_pb2.ValidateSessionRequest(session_id=session_id, password_hash=PW)
            )
            assert reply.result == auth_pb2.JOIN_RESULT_OK  # bound to the new hash
            await h.stub.EndSession(auth_pb2.EndSessionRequest(session_id=session_id))
            assert (await login(h, pw=OTHER_PW)).result == auth_pb2.LOGIN_RESULT_INVALID_PASSWORD
            assert (await login(h)).result == auth_pb2.LOGIN_RESULT_OK
    with sqlite3.connect(db_path) as db:
        (after,) = db.execute("SELECT password_hash FROM auth_accounts").fetchone()
    assert "$m=128,t=2,p=1$" in after


async def test_concurrent_logins_beyond_the_hash_slots_queue_or_fail_in_time(
    tmp_path: Path,
) -> None:
    # One argon2 slot, a costlier hash and a short deadline: 20 logins at once cannot all be
    # served in time. Which ones are is up to the machine; every one gets an answer.
    options = AuthOptions(
        session_ttl=SESSION_TTL,
        argon2=Argon2Params(time_cost=3, memory_kib=8192, parallelism=1),
        hash_concurrency=1,
    )
    names = [f"user{index}" for index in range(20)]
    async with serve_auth(tmp_path, options) as (service, address, clock):
        async with grpc.aio.insecure_channel(address) as channel:
            h = AuthHarness(auth_pb2_grpc.AuthStub(channel), clock, service, tmp_path)
            for name in names:
                await create(h, name)

            async def attempt(name: str) -> str:
                try:
                    reply = await h.stub.Login(
                        auth_pb2.LoginRequest(username=name, password_hash=PW), timeout=0.3
                    )
                except grpc.aio.AioRpcError as exc:
                    return exc.code().name
                return auth_pb2.LoginResult.Name(reply.result)

            outcomes = dict(zip(names, await asyncio.gather(*map(attempt, names)), strict=True))
            assert set(outcomes.values()) <= {
                "LOGIN_RESULT_OK", "LOGIN_RESULT_FAILED", "DEADLINE_EXCEEDED"
            }, outcomes
            assert "LOGIN_RESULT_OK" in outcomes.values()
            # The service is not wedged: the ones left out log in now.
            for name, outcome in outcomes.items():
                if outcome != "LOGIN_RESULT_OK":
                    reply = await h.stub.Login(
                        auth_pb2.LoginRequest(username=name, password_hash=PW), timeout=30
                    )
                    assert reply.result == auth_pb2.LOGIN_RESULT_OK, name
