"""The world stream in-process (:mod:`gateway_world.local`): a gateway whose world service is the
embedded one calls it without gRPC (unless WORLD_IN_PROCESS is false); the world link over it
behaves as over gRPC: events and answers, the end of the service as UNAVAILABLE, reconnecting
with the replay of its characters, and a closed link taking them off the map."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from gateway_protos.v1 import world_pb2
from gateway_world.delivery import WorldLink, WorldRequestError
from gateway_world.local import LocalWorldStub
from gateway_world.service import WorldReferenceService

from gateway_core.testing import (
    GATEWAY_TEST_SETTINGS,
    ManualClock,
    RunningGateway,
    running_gateway,
    serve_on_loopback,
)

from .conftest import EVENT_TIMEOUT, pos

pytestmark = pytest.mark.anyio


def _link_stub(running: RunningGateway) -> object:
    runtime = running.gateway.runtimes.get("world")
    assert runtime is not None
    return runtime.link._stub  # type: ignore[attr-defined]


@pytest.mark.parametrize(("in_process", "local"), [(True, True), (False, False)])
async def test_the_embedded_world_is_called_in_process_unless_world_in_process_is_false(
    tmp_path: Path, in_process: bool, local: bool
) -> None:
    settings = {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path), "WORLD_IN_PROCESS": in_process}
    async with running_gateway(settings, RunningGateway) as running:
        assert isinstance(_link_stub(running), LocalWorldStub) is local


async def test_a_world_service_at_an_address_is_always_called_through_grpc(
    tmp_path: Path,
) -> None:
    async with serve_on_loopback(WorldReferenceService(), "world") as host:
        settings = {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path),
                    "WORLD_SERVICE_ADDR": host.address}
        async with running_gateway(settings, RunningGateway) as running:
            assert not isinstance(_link_stub(running), LocalWorldStub)


@pytest.fixture
async def service() -> AsyncIterator[WorldReferenceService]:
    # Started without any gRPC server: only the in-process stub reaches it.
    world = WorldReferenceService(view_radius=1000.0, tick_interval=3600.0,
                                  clock=ManualClock(1000.0), position_tolerance=math.inf)
    await world.start()
    try:
        yield world
    finally:
        await world.stop()


class _Gateway:
    def __init__(self, service: WorldReferenceService, gateway_id: str) -> None:
        self.events: asyncio.Queue[world_pb2.WorldEvent] = asyncio.Queue()
        self.link = WorldLink(LocalWorldStub(service), gateway_id, self.events.put_nowait,
                              initial_backoff=0.02, max_backoff=0.05, request_timeout=2.0)

    async def next(self, kind: str) -> world_pb2.WorldEvent:
        while True:
            event = await asyncio.wait_for(self.events.get(), EVENT_TIMEOUT)
            if event.WhichOneof("event") == kind:
                return event

    async def put(self, character_id: int, x: float) -> int:
        ack = await self.link.enter(world_pb2.EnterMap(
            character_id=character_id, name=f"char{character_id}", map_id=1,
            position=pos(x, 0), look=world_pb2.PlayerLook(run_speed=500)))
        await self.link.ready(character_id)
        return ack.object_id


async def _connected(link: WorldLink) -> None:
    await asyncio.wait_for(link.wait_connected(), EVENT_TIMEOUT)


async def test_the_link_over_the_in_process_stream_gets_answers_and_events(
    service: WorldReferenceService,
) -> None:
    alice, bob = _Gateway(service, "gw-a"), _Gateway(service, "gw-b")
    for gateway in (alice, bob):
        gateway.link.start()
        await _connected(gateway.link)
    try:
        alice_id = await alice.put(1, 0.0)
        await bob.put(2, 100.0)
        spawn = await bob.next("spawn")
        assert spawn.spawn.object_id == alice_id
        assert alice.link.move(1, 0, pos(50.0, 0.0))
        moved = await bob.next("moved")
        assert (moved.moved.object_id, list(moved.recipient_character_ids)) == (alice_id, [2])
        assert (moved.moved.destination.x, moved.moved.destination.y) == (50.0, 0.0)
    finally:
        await alice.link.aclose()
        await bob.link.aclose()


async def test_a_stopped_service_is_unavailable_and_the_link_puts_its_characters_back_after(
    service: WorldReferenceService,
) -> None:
    gateway = _Gateway(service, "gw-a")
    gateway.link.start()
    await _connected(gateway.link)
    try:
        object_id = await gateway.put(1, 0.0)
        await service.stop()  # every stream ends UNAVAILABLE; the link retries and fails
        while gateway.link.connected:
            await asyncio.sleep(0.01)
        assert 1 not in service.state.characters
        await asyncio.sleep(0.1)
        assert not gateway.link.connected
        await service.start()
        await _connected(gateway.link)
        entity = service.state.characters[1]
        assert (entity.object_id, entity.ready) == (object_id, True)
        assert gateway.link.connections == 2
    finally:
        await gateway.link.aclose()


async def test_closing_the_link_takes_its_characters_off_the_map(
    service: WorldReferenceService,
) -> None:
    gateway = _Gateway(service, "gw-a")
    gateway.link.start()
    await _connected(gateway.link)
    await gateway.put(1, 0.0)
    assert "gw-a" in service.state.gateways
    await gateway.link.aclose()
    for _ in range(100):
        if "gw-a" not in service.state.gateways:
            break
        await asyncio.sleep(0.01)
    assert "gw-a" not in service.state.gateways
    assert 1 not in service.state.characters


async def test_a_rejected_request_raises_with_the_services_status(
    service: WorldReferenceService,
) -> None:
    gateway = _Gateway(service, "gw-a")
    gateway.link.start()
    await _connected(gateway.link)
    try:
        with pytest.raises(WorldRequestError) as failure:
            await gateway.link.ready(99)  # never entered
        assert failure.value.code is grpc.StatusCode.NOT_FOUND
    finally:
        await gateway.link.aclose()
