"""The reference auth service over a real loopback gRPC server and a real SQLite file: what its
servicer composes (:mod:`gateway_auth.service.servicer`): result values, login (the account
part's password check opening a session), worlds, a login's argon2 cost.

The account part is tested in ``test_accounts.py``, the session part in ``test_sessions.py``
and ``test_session_holds.py``; they share this module's helpers."""

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

from gateway_core.protocol.packets import JoinResult, LoginResult, ServerSelectResult

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
    # The gateway's handlers put the service's result values on the wire as they are: each one
    # must be the packet enum member of the same name (LOGIN_RESULT_X is LoginResult.X).
    pairs = (
        ("LOGIN_RESULT_", auth_pb2.LoginResult, LoginResult),
        ("SERVER_SELECT_RESULT_", auth_pb2.ServerSelectResult, ServerSelectResult),
        ("JOIN_RESULT_", auth_pb2.JoinResult, JoinResult),
    )
    for prefix, service_enum, packet_enum in pairs:
        values = service_enum.items()
        assert values, prefix
        for name, value in values:
            assert name.startswith(prefix), name
            member = name.removeprefix(prefix)
            assert member in packet_enum.__members__, f"{name}: no {packet_enum.__name__}.{member}"
            assert value == packet_enum[member], (name, value, int(packet_enum[member]))
    assert auth_pb2.LOGIN_RESULT_OK == LoginResult.OK == 0
    assert auth_pb2.LOGIN_RESULT_FAILED == LoginResult.FAILED == 1
    assert auth_pb2.LOGIN_RESULT_UNKNOWN_ACCOUNT == LoginResult.UNKNOWN_ACCOUNT == 2
    assert auth_pb2.LOGIN_RESULT_INVALID_PASSWORD == LoginResult.INVALID_PASSWORD == 3
    assert auth_pb2.LOGIN_RESULT_ALREADY_LOGGEDIN == LoginResult.ALREADY_LOGGEDIN == 4
    assert auth_pb2.LOGIN_RESULT_NO_RIGHT_TO_CONNECT == LoginResult.NO_RIGHT_TO_CONNECT == 7
    assert (
        auth_pb2.SERVER_SELECT_RESULT_INVALID_CHANNEL == ServerSelectResult.INVALID_CHANNEL == 3
    )
    assert auth_pb2.JOIN_RESULT_TIME_OUT == JoinResult.TIME_OUT == 2
    assert auth_pb2.JOIN_RESULT_INVALID_PASSWORD == JoinResult.INVALID_PASSWORD == 3


def test_client_password_hash_is_lowercase_sha256_hex() -> None:
    assert client_password_hash("admin") == hashlib.sha256(b"admin").hexdigest()
    assert client_password_hash("admin").startswith("8c6976e5")


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
    await auth.drop_table("auth_sessions")
    assert (await login(auth)).result == auth_pb2.LOGIN_RESULT_FAILED


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


# -- argon2 cost of a login: rehash, bounded, deadline-aware ------------------------------


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
    # served in time. Which ones are is up to the machine (none of the impatient ones on a busy
    # one); every one gets an answer, and one that waits is served.
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
                # The first caller waits as long as it takes; the rest give up after 0.3 s.
                timeout = 30.0 if name == names[0] else 0.3
                try:
                    reply = await h.stub.Login(
                        auth_pb2.LoginRequest(username=name, password_hash=PW), timeout=timeout
                    )
                except grpc.aio.AioRpcError as exc:
                    return exc.code().name
                return auth_pb2.LoginResult.Name(reply.result)

            outcomes = dict(zip(names, await asyncio.gather(*map(attempt, names)), strict=True))
            assert set(outcomes.values()) <= {
                "LOGIN_RESULT_OK", "LOGIN_RESULT_FAILED", "DEADLINE_EXCEEDED"
            }, outcomes
            # The flood never starves a patient caller: it is served among the others.
            assert outcomes[names[0]] == "LOGIN_RESULT_OK", outcomes
            # The service is not wedged: the ones left out log in now.
            for name, outcome in outcomes.items():
                if outcome != "LOGIN_RESULT_OK":
                    reply = await h.stub.Login(
                        auth_pb2.LoginRequest(username=name, password_hash=PW), timeout=30
                    )
                    assert reply.result == auth_pb2.LOGIN_RESULT_OK, name
