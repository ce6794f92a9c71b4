"""Two gateways on one world service running in its own process, at the gRPC level.

Each "gateway" is a :class:`WorldLink` with its own gateway id; events are turned into the
packets the gateway would send.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from gateway_protos.v1 import world_pb2, world_pb2_grpc
from gateway_world.delivery import WorldLink, WorldRequestError, event_packet

from gateway_core.protocol.numbering import get_profile
from gateway_core.protocol.packets import SrvMouseCmd, SrvPlayerChar, SrvRemoveObject
from gateway_core.testing import service_process

from .conftest import EVENT_TIMEOUT, pos

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

RADIUS = 1000.0
PROFILE = get_profile("2026")
#: A map the built-in content pack does not define: no NPCs, monsters or bounds on it.
BARE_MAP = 9


@pytest.fixture
async def service() -> AsyncIterator[str]:
    # Tick every hour: nobody walks into view on their own during the test.
    settings = {"WORLD_VIEW_RADIUS": RADIUS, "WORLD_TICK_INTERVAL": 3600}
    with service_process("world", settings) as process:
        yield process.address


class Gateway:
    """A world link plus the (recipient ids, event) pairs it received."""

    def __init__(self, address: str, gateway_id: str) -> None:
        self.channel = grpc.aio.insecure_channel(address)
        stub: world_pb2_grpc.WorldAsyncStub = world_pb2_grpc.WorldStub(self.channel)
        self.stub = stub
        self.received: asyncio.Queue[world_pb2.WorldEvent] = asyncio.Queue()
        self.link = WorldLink(stub, gateway_id, self.received.put_nowait, initial_backoff=0.05)

    async def next(self) -> world_pb2.WorldEvent:
        return await asyncio.wait_for(self.received.get(), EVENT_TIMEOUT)

    async def start(self) -> None:
        self.link.start()
        await asyncio.wait_for(self.link.wait_connected(), EVENT_TIMEOUT)

    async def put(self, character_id: int, x: float, y: float) -> int:
        ack = await self.link.enter(
            world_pb2.EnterMap(
                character_id=character_id,
                name=f"char{character_id}",
                map_id=BARE_MAP,
                position=pos(x, y),
                look=world_pb2.PlayerLook(level=3, equipment=[7]),
            )
        )
        await self.link.ready(character_id)
        return ack.object_id

    async def close(self) -> None:
        await self.link.aclose()
        await self.channel.close()


async def test_movement_reaches_other_gateway_within_view_radius_only(service: str) -> None:
    a, b = Gateway(service, "gw-a"), Gateway(service, "gw-b")
    try:
        await a.start()
        await b.start()
        a_id = await a.put(1, 0, 0)
        near_id = await b.put(2, 500, 0)
        await b.put(3, 5000, 0)  # outside the view radius
        spawn_on_b = await b.next()
        assert list(spawn_on_b.recipient_character_ids) == [2]
        packet = event_packet(spawn_on_b, PROFILE)
        assert isinstance(packet, SrvPlayerChar)
        assert (packet.id, packet.name, packet.level) == (a_id, b"char1", 3)
        assert isinstance(event_packet(await a.next(), PROFILE), SrvPlayerChar)

        assert a.link.move(1, 0, pos(100, 50))
        on_b = await b.next()
        assert list(on_b.recipient_character_ids) == [2]  # not character 3
        assert event_packet(on_b, PROFILE) == SrvMouseCmd(
            id=a_id, target_id=0, distance=112, x=100.0, y=50.0, z=0
        )
        on_a = await a.next()
        assert list(on_a.recipient_character_ids) == [1]  # the mover itself

        # Gateway A goes away: B's character sees A's removed.
        await a.close()
        removed = await b.next()
        assert event_packet(removed, PROFILE) == SrvRemoveObject(id=a_id)
        assert list(removed.recipient_character_ids) == [2]
        del near_id
    finally:
        await a.close()
        await b.close()


async def test_request_for_unknown_character_raises(service: str) -> None:
    a = Gateway(service, "gw-a")
    try:
        await a.start()
        with pytest.raises(WorldRequestError) as caught:
            await a.link.ready(99)
        assert caught.value.code == grpc.StatusCode.NOT_FOUND
    finally:
        await a.close()
