"""ReleaseSessions: a stopping gateway releases every session it carried in one call, each
exactly as ReleaseSession would, its world connections of them included (real loopback gRPC
server, SQLite and PostgreSQL)."""

from __future__ import annotations

import grpc
import pytest
from gateway_protos.v1 import auth_pb2

from ..conftest import AuthHarness
from .test_auth_service import create, expect_status, login, to_character_select
from .test_session_holds import in_world, is_live, join, world_join

pytestmark = pytest.mark.anyio


async def release_all(h: AuthHarness, session_ids: list[int], gateway: str) -> list[bool]:
    reply = await h.stub.ReleaseSessions(
        auth_pb2.ReleaseSessionsRequest(session_ids=session_ids, gateway_id=gateway))
    return list(reply.ended)


async def test_each_session_is_released_like_release_session(auth: AuthHarness) -> None:
    """Held by the gateway alone: ended (the account may log in again); held by another
    gateway too: lives on; unknown: nothing."""
    for name in ("alice", "bob"):
        await create(auth, name)
    alone = await to_character_select(auth, "alice")
    shared = await to_character_select(auth, "bob")
    await join(auth, alone, "gateway-a")
    await join(auth, shared, "gateway-a")
    await join(auth, shared, "gateway-b")
    assert await release_all(auth, [alone, shared, 12345], "gateway-a") == [True, False, False]
    assert not await is_live(auth, alone)
    assert (await login(auth, "alice")).result == auth_pb2.LOGIN_RESULT_OK
    assert await is_live(auth, shared)
    assert await release_all(auth, [shared], "gateway-b") == [True]


async def test_the_gateways_world_connections_stop_counting(auth: AuthHarness) -> None:
    """A session another gateway still holds: its world join elsewhere is not refused for
    the released gateway's world connection (no ReleaseWorld needed)."""
    await create(auth)
    session_id = await in_world(auth)
    await join(auth, session_id, "gateway-b")  # the character leg, on another gateway
    assert await world_join(auth, session_id, "gateway-a", "c1") == auth_pb2.JOIN_RESULT_OK
    assert await world_join(auth, session_id, "gateway-b", "c2") == auth_pb2.JOIN_RESULT_FAILED
    assert await release_all(auth, [session_id], "gateway-a") == [False]
    assert await world_join(auth, session_id, "gateway-b", "c2") == auth_pb2.JOIN_RESULT_OK


async def test_release_sessions_needs_a_holder_and_at_most_ten_thousand_ids(
    auth: AuthHarness,
) -> None:
    await expect_status(
        auth.stub.ReleaseSessions(auth_pb2.ReleaseSessionsRequest(session_ids=[1])),
        grpc.StatusCode.INVALID_ARGUMENT)
    await expect_status(
        auth.stub.ReleaseSessions(auth_pb2.ReleaseSessionsRequest(
            session_ids=list(range(1, 10002)), gateway_id="gateway-a")),
        grpc.StatusCode.INVALID_ARGUMENT)
