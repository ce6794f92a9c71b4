"""The content requests and queries of the world contract over a real loopback grpc.aio server:
warp gates and their refusal reasons, removing a monster, the `placed` answer of a stop,
players per channel in GetStats, and FindCharacter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from gateway_protos.v1 import world_pb2, world_pb2_grpc
from gateway_world.service import WorldReferenceService

from gateway_core.api import load_pack
from gateway_core.testing import ManualClock, serve_on_loopback

from ..conftest import WorldHarness, pos

pytestmark = pytest.mark.anyio

CONTENT = Path(__file__).resolve().parent.parent / "content"
START = (520000.0, 520000.0)
NOT_FOUND, FAILED_PRECONDITION = 5, 9


@pytest.fixture
async def world() -> AsyncIterator[WorldHarness]:
    clock = ManualClock(1000.0)
    service = WorldReferenceService(
        view_radius=300.0, tick_interval=3600.0, clock=clock, content=load_pack(CONTENT),
        seed=3,
    )
    async with (
        serve_on_loopback(service, "world") as host,
        grpc.aio.insecure_channel(host.address) as channel,
    ):
        harness = WorldHarness(world_pb2_grpc.WorldStub(channel), service, clock, host.address)
        try:
            yield harness
        finally:
            for gateway in harness.gateways:
                gateway.outbox.put_nowait(None)
                await gateway.aclose()


async def enter(gateway: object, character_id: int, *, channel_id: int = 1) -> world_pb2.Ack:
    ack = await gateway.ok(  # type: ignore[attr-defined]
        enter=world_pb2.EnterMap(
            character_id=character_id, name=f"char{character_id}", map_id=20,
            position=pos(*START), look=world_pb2.PlayerLook(), channel_id=channel_id,
        )
    )
    await gateway.ok(ready=world_pb2.Ready(character_id=character_id))  # type: ignore[attr-defined]
    return ack  # type: ignore[no-any-return]


async def next_of(gateway: object, kind: str) -> world_pb2.WorldEvent:
    """The next event of ``kind`` (the town's spawns before it are skipped)."""
    while True:
        event: world_pb2.WorldEvent = await gateway.next()  # type: ignore[attr-defined]
        if event.WhichOneof("event") == kind:
            return event


async def test_gate_refusals_carry_their_reason_and_a_gate_taken_acks_the_landing(
    world: WorldHarness,
) -> None:
    gateway = await world.connect("gw")
    await enter(gateway, 1)
    for gate_id, code, reason in ((9, NOT_FOUND, "unknown_gate"),
                                  (2, FAILED_PRECONDITION, "gate_on_other_map"),
                                  (3, FAILED_PRECONDITION, "gate_out_of_range")):
        rejected = await gateway.rejected(gate=world_pb2.UseGate(character_id=1, gate_id=gate_id))
        assert (rejected.code, rejected.reason) == (code, reason)
    ack = await gateway.ok(gate=world_pb2.UseGate(character_id=1, gate_id=1))
    assert (ack.map_id, ack.position.x, ack.position.y) == (22, 530000.0, 530000.0)
    presence = await world.stub.GetPresence(world_pb2.GetPresenceRequest(character_id=1))
    assert (presence.map_id, presence.ready) == (22, False)


async def test_removing_a_monster_by_request(world: WorldHarness) -> None:
    gateway = await world.connect("gw")
    await enter(gateway, 1)
    await gateway.ok(gate=world_pb2.UseGate(character_id=1, gate_id=1))
    await gateway.ok(ready=world_pb2.Ready(character_id=1))
    monster = (await next_of(gateway, "monster_spawn")).monster_spawn.object_id
    await gateway.ok(remove_monster=world_pb2.RemoveMonster(map_id=22, object_id=monster))
    assert (await next_of(gateway, "removed")).removed.object_id == monster
    again = await gateway.rejected(
        remove_monster=world_pb2.RemoveMonster(map_id=22, object_id=monster)
    )
    assert (again.code, again.reason) == (NOT_FOUND, "unknown_monster")


async def test_a_stop_is_answered_with_the_service_position(world: WorldHarness) -> None:
    gateway = await world.connect("gw", keep_placed=True)
    await enter(gateway, 1)
    far = pos(START[0] + 900, START[1])
    await gateway.ok(stop=world_pb2.StopMoving(character_id=1, position=far))
    placed = (await next_of(gateway, "placed")).placed
    assert placed.corrected and (placed.position.x, placed.position.y) == START
    assert (await world.stub.GetStats(world_pb2.WorldStatsRequest())).corrected_positions == 1


async def test_players_per_channel_and_find_by_name(world: WorldHarness) -> None:
    gateway = await world.connect("gw")
    await enter(gateway, 1, channel_id=1)
    await enter(gateway, 2, channel_id=2)
    await enter(gateway, 3, channel_id=2)
    stats = await world.stub.GetStats(world_pb2.WorldStatsRequest())
    assert [(c.channel_id, c.characters) for c in stats.channels] == [(1, 1), (2, 2)]
    assert stats.npcs == 4  # the town's two NPCs on each of the two channels' instances
    found = await world.stub.FindCharacter(world_pb2.FindCharacterRequest(name="CHAR3"))
    assert (found.character_id, found.channel_id, found.map_id) == (3, 2, 20)
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await world.stub.FindCharacter(world_pb2.FindCharacterRequest(name="nobody"))
    assert missing.value.code() is grpc.StatusCode.NOT_FOUND
