"""Two auth service processes' worth of servicers on one database (two real grpc.aio servers,
two engines, one PostgreSQL database or one SQLite file): work that conflicts, started on both
replicas at once, keeps the rules one process keeps. An account logs in once, a session has
one world connection, a release ends a session only when no gateway holds it, and a join on
one replica of a login made on the other needs no argon2 when both share AUTH_BINDING_KEY."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import grpc
import pytest
from gateway_auth.service import AuthOptions, AuthReferenceService
from gateway_protos.v1 import auth_pb2, auth_pb2_grpc

from gateway_core.testing import ManualClock, query, serve_on_loopback

from ..conftest import FAST_ARGON2, SESSION_TTL
from .test_auth_service import PW

pytestmark = pytest.mark.anyio

BINDING_KEY = "replicas-share-this-binding-key-0123456789"
#: Rounds of each race: a race lost by chance once would pass one round.
ROUNDS = 5


@dataclass
class Replica:
    stub: auth_pb2_grpc.AuthAsyncStub
    service: AuthReferenceService

    @property
    def argon2_runs(self) -> int:
        return self.service.servicer.passwords.operations


@dataclass
class Replicas:
    a: Replica
    b: Replica
    clock: ManualClock

    async def sql(self, statement: str, **params: object) -> list[tuple[object, ...]]:
        return await query(self.a.service.engine, statement, **params)


async def serve_replicas(url: str, binding_key: str) -> AsyncIterator[Replicas]:
    clock = ManualClock()  # one time for both, as two machines' synchronised clocks
    options = AuthOptions(session_ttl=SESSION_TTL, argon2=FAST_ARGON2, binding_key=binding_key)
    one = AuthReferenceService(url, options, clock=clock)
    two = AuthReferenceService(url, options, clock=clock)
    async with (
        serve_on_loopback(one, "auth") as first,
        serve_on_loopback(two, "auth") as second,
        grpc.aio.insecure_channel(first.address) as channel_a,
        grpc.aio.insecure_channel(second.address) as channel_b,
    ):
        yield Replicas(Replica(auth_pb2_grpc.AuthStub(channel_a), one),
                       Replica(auth_pb2_grpc.AuthStub(channel_b), two), clock)


@pytest.fixture
async def replicas(database: Callable[[str], str]) -> AsyncIterator[Replicas]:
    async for pair in serve_replicas(database("auth"), BINDING_KEY):
        yield pair


async def create(replica: Replica, name: str) -> None:
    await replica.stub.CreateAccount(auth_pb2.CreateAccountRequest(
        username=name, password_hash=PW, access_level=1))


async def login(replica: Replica, name: str) -> auth_pb2.LoginReply:
    return await replica.stub.Login(auth_pb2.LoginRequest(username=name, password_hash=PW),
                                    timeout=30)


async def selected(replica: Replica, name: str) -> int:
    """A CHARACTER_SELECT session of ``name`` logged in on ``replica``."""
    reply = await login(replica, name)
    assert reply.result == auth_pb2.LOGIN_RESULT_OK
    moved = await replica.stub.SelectServer(auth_pb2.SelectServerRequest(
        session_id=reply.session_id, world_id=1, channel_id=1))
    assert moved.result == auth_pb2.SERVER_SELECT_RESULT_OK
    return moved.session_id


async def join(replica: Replica, session_id: int, gateway: str, connection: str = "") -> int:
    reply = await replica.stub.ValidateSession(auth_pb2.ValidateSessionRequest(
        session_id=session_id, password_hash=PW, gateway_id=gateway,
        world_connection=connection), timeout=30)
    return int(reply.result)


async def release(replica: Replica, session_id: int, gateway: str) -> bool:
    reply = await replica.stub.ReleaseSession(auth_pb2.ReleaseSessionRequest(
        session_id=session_id, gateway_id=gateway), timeout=30)
    return reply.ended


async def test_an_account_logged_in_on_both_replicas_at_once_gets_one_session(
    replicas: Replicas,
) -> None:
    for round_ in range(ROUNDS):
        name = f"twin{round_}"
        await create(replicas.a, name)
        replies = await asyncio.gather(*(login(r, name) for r in (replicas.a, replicas.b) * 2))
        results = sorted(reply.result for reply in replies)
        assert results == sorted([auth_pb2.LOGIN_RESULT_OK]
                                 + [auth_pb2.LOGIN_RESULT_ALREADY_LOGGEDIN] * 3), replies
        [(sessions,)] = await replicas.sql(
            "SELECT count(*) FROM auth_sessions s JOIN auth_accounts a ON a.id = s.account_id "
            "WHERE a.username = :name", name=name)
        assert sessions == 1


async def test_a_login_on_one_replica_is_joined_on_the_other_without_argon2(
    replicas: Replicas,
) -> None:
    await create(replicas.a, "alice")
    session_id = await selected(replicas.a, "alice")
    before = replicas.b.argon2_runs
    assert await join(replicas.b, session_id, "gateway-b") == auth_pb2.JOIN_RESULT_OK
    assert replicas.b.argon2_runs == before  # the binding of replica A's login, checked by B
    wrong = await replicas.b.stub.ValidateSession(auth_pb2.ValidateSessionRequest(
        session_id=session_id, password_hash="0" * 64, gateway_id="gateway-b"))
    assert wrong.result == auth_pb2.JOIN_RESULT_INVALID_PASSWORD


async def test_without_a_shared_key_the_other_replica_checks_with_argon2_once(
    database: Callable[[str], str],
) -> None:
    async for pair in serve_replicas(database("auth"), ""):
        await create(pair.a, "alice")
        session_id = await selected(pair.a, "alice")
        before = pair.b.argon2_runs
        for _ in range(3):
            assert await join(pair.b, session_id, "gateway-b") == auth_pb2.JOIN_RESULT_OK
        assert pair.b.argon2_runs == before + 1


async def test_world_joins_of_one_session_from_two_gateways_at_once_give_one_carrier(
    replicas: Replicas,
) -> None:
    for round_ in range(ROUNDS):
        name = f"walker{round_}"
        await create(replicas.a, name)
        session_id = await selected(replicas.a, name)
        await replicas.a.stub.SetSessionPhase(auth_pb2.SetSessionPhaseRequest(
            session_id=session_id, phase=auth_pb2.SESSION_PHASE_WORLD, character_id=7,
            character_name="Walker"))
        results = await asyncio.gather(
            join(replicas.a, session_id, "gateway-a", "c1"),
            join(replicas.b, session_id, "gateway-b", "c2"))
        assert sorted(results) == sorted([auth_pb2.JOIN_RESULT_OK, auth_pb2.JOIN_RESULT_FAILED])
        winner = "gateway-a|c1" if results[0] == auth_pb2.JOIN_RESULT_OK else "gateway-b|c2"
        [(carrier,)] = await replicas.sql(
            "SELECT world_carrier FROM auth_sessions WHERE id = :id", id=session_id)
        assert carrier == winner


async def test_releases_on_both_replicas_at_once_end_the_session_exactly_once(
    replicas: Replicas,
) -> None:
    for round_ in range(ROUNDS):
        name = f"leaver{round_}"
        await create(replicas.a, name)
        session_id = await selected(replicas.a, name)
        assert await join(replicas.a, session_id, "gateway-a") == auth_pb2.JOIN_RESULT_OK
        assert await join(replicas.b, session_id, "gateway-b") == auth_pb2.JOIN_RESULT_OK
        ended = await asyncio.gather(release(replicas.a, session_id, "gateway-a"),
                                     release(replicas.b, session_id, "gateway-b"))
        assert sorted(ended) == [False, True]  # the last release ends it, never neither
        assert await replicas.sql(
            "SELECT id FROM auth_sessions WHERE id = :id", id=session_id) == []
        assert (await login(replicas.b, name)).result == auth_pb2.LOGIN_RESULT_OK


async def test_a_session_held_through_one_replica_is_released_through_the_other(
    replicas: Replicas,
) -> None:
    await create(replicas.a, "alice")
    session_id = await selected(replicas.a, "alice")
    assert await join(replicas.a, session_id, "gateway-a") == auth_pb2.JOIN_RESULT_OK
    assert await join(replicas.b, session_id, "gateway-b") == auth_pb2.JOIN_RESULT_OK
    assert not await release(replicas.b, session_id, "gateway-a")  # gateway-b still holds it
    assert (await login(replicas.b, "alice")).result == auth_pb2.LOGIN_RESULT_ALREADY_LOGGEDIN
    assert await release(replicas.a, session_id, "gateway-b")
    assert (await login(replicas.b, "alice")).result == auth_pb2.LOGIN_RESULT_OK


async def test_a_login_on_the_other_replica_takes_over_a_session_whose_gateway_died(
    replicas: Replicas,
) -> None:
    """gateway-a joined through replica A and stopped touching: once its lease ran out, the
    right password on replica B takes the account over, and twice at once wins once."""
    await create(replicas.a, "alice")
    session_id = await selected(replicas.a, "alice")
    assert await join(replicas.a, session_id, "gateway-a") == auth_pb2.JOIN_RESULT_OK
    assert (await login(replicas.b, "alice")).result == auth_pb2.LOGIN_RESULT_ALREADY_LOGGEDIN
    replicas.clock.advance(min(SESSION_TTL, replicas.a.service.options.hold_lease) + 1)
    replies = await asyncio.gather(login(replicas.b, "alice"), login(replicas.a, "alice"))
    assert sorted(r.result for r in replies) == sorted(
        [auth_pb2.LOGIN_RESULT_OK, auth_pb2.LOGIN_RESULT_ALREADY_LOGGEDIN])
    [(sessions,)] = await replicas.sql("SELECT count(*) FROM auth_sessions")
    assert sessions == 1
    assert await replicas.sql("SELECT id FROM auth_sessions WHERE id = :id", id=session_id) == []
