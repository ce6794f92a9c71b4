"""``WatchAccounts``: every ban is pushed to every watching gateway (what lets ``gateway
account ban`` close the account's connections at once), over a real loopback gRPC server."""

from __future__ import annotations

import grpc
import pytest
from gateway_protos.v1 import auth_pb2

from gateway_core.testing import StreamReader

from ..conftest import AuthHarness
from .test_auth_service import create, expect_status

pytestmark = pytest.mark.anyio


async def _watch(auth: AuthHarness, gateway_id: str) -> StreamReader[auth_pb2.AccountEvent]:
    reader: StreamReader[auth_pb2.AccountEvent] = StreamReader(
        auth.stub.WatchAccounts(auth_pb2.WatchAccountsRequest(gateway_id=gateway_id)),
        timeout=5.0)
    reader.start()
    first = await reader.next()
    assert first.watching.gateway_id == gateway_id
    return reader


async def test_a_ban_reaches_every_watching_gateway_and_an_unban_nobody(
        auth: AuthHarness) -> None:
    alice = await create(auth, "alice")
    await create(auth, "bob")
    a, b = await _watch(auth, "gw-a"), await _watch(auth, "gw-b")
    try:
        await auth.stub.SetBanned(auth_pb2.SetBannedRequest(username="ALICE", banned=True))
        for reader in (a, b):
            event = await reader.next()
            assert (event.banned.user_id, event.banned.username) == (alice, "alice")
        await auth.stub.SetBanned(auth_pb2.SetBannedRequest(username="alice", banned=False))
        await auth.stub.SetBanned(auth_pb2.SetBannedRequest(username="bob", banned=True))
        assert (await a.next()).banned.username == "bob"  # the unban pushed nothing
        assert auth.service.servicer.watchers.pushed == 4
    finally:
        await a.aclose()
        await b.aclose()


async def test_watching_again_with_the_same_gateway_id_ends_the_old_stream(
        auth: AuthHarness) -> None:
    old = await _watch(auth, "gw-a")
    new = await _watch(auth, "gw-a")
    try:
        assert await old.code() == grpc.StatusCode.ABORTED
        assert len(auth.service.servicer.watchers) == 1
    finally:
        await old.aclose()
        await new.aclose()


async def test_watch_refuses_a_bad_gateway_id(auth: AuthHarness) -> None:
    for gateway_id in ("", "x" * 65):
        call = auth.stub.WatchAccounts(auth_pb2.WatchAccountsRequest(gateway_id=gateway_id))
        await expect_status(call.read(), grpc.StatusCode.INVALID_ARGUMENT)
