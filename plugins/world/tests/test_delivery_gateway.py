"""Batched world delivery through a real gateway (embedded reference services, bots over TCP):
each client gets its packets of the world's batches in order, and the gateway's world metrics
count the batches, the events and the packets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway_core.bot import GameClient
from gateway_core.bot import steps as flow
from gateway_core.protocol.packets import CliMouseCmd, CliNormalChat, SrvMouseCmd, SrvNormalChat
from gateway_core.testing import GATEWAY_TEST_SETTINGS, RunningGateway, running_gateway

pytestmark = pytest.mark.anyio

TIMEOUT = 5.0
START = (520000.0, 520000.0)


@pytest.fixture(params=[True, False], ids=["in-process", "grpc"])
async def gateway(tmp_path: Path, request: pytest.FixtureRequest
                  ) -> AsyncIterator[RunningGateway]:
    # The embedded world called in-process, and through gRPC.
    settings = {
        **GATEWAY_TEST_SETTINGS,
        "DATA_DIR": str(tmp_path / "data"),
        "WORLD_VIEW_RADIUS": 300.0,
        "WORLD_TICK_INTERVAL": 0.05,
        "WORLD_IN_PROCESS": request.param,
    }
    async with running_gateway(settings, RunningGateway) as running:
        yield running


async def _player(gateway: RunningGateway, name: str) -> tuple[GameClient, int]:
    client, _ = await gateway.join_world(name)
    change = await flow.change_map(client)
    return client, change.object_index


async def test_each_client_gets_the_batched_events_in_order_and_the_metrics_count_them(
    gateway: RunningGateway,
) -> None:
    alice, alice_id = await _player(gateway, "Alice")
    bob, _ = await _player(gateway, "Bob")
    carol, _ = await _player(gateway, "Carol")
    lines = [f"line {n}".encode() for n in range(30)]
    await alice.send(*(CliNormalChat(message=line) for line in lines))
    await alice.send(CliMouseCmd(target_id=0, x=START[0] + 40, y=START[1], z=0))
    for client in (alice, bob, carol):
        for line in lines:
            said = await client.expect(
                SrvNormalChat,
                step="chat",
                timeout=TIMEOUT,
                match=lambda p: p.char_id == alice_id,
            )
            assert said.message == line  # in the order said
        moved = await client.expect(
            SrvMouseCmd, step="move", timeout=TIMEOUT, match=lambda p: p.id == alice_id
        )
        assert (moved.x, moved.y) == (START[0] + 40, START[1])
    batches = gateway.sample("gateway_world_event_batches_total", {})
    events = gateway.sample("gateway_world_events_total", {})
    packets = gateway.sample("gateway_world_packets_total", {})
    # 31 events for the three of them (each chat line and the move once, for all three
    # recipients), besides the spawns; fewer stream messages than events.
    assert events >= 31 and packets >= 3 * 31
    assert 0 < batches < events
    assert gateway.sample("gateway_world_dropped_requests_total", {}) == 0
    assert gateway.sample("gateway_world_outbox_requests", {}) == 0
