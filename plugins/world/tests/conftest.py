"""Fixtures of the world plugin tests: the reference world service on a real loopback grpc.aio
server with a hand-moved clock, and raw gateway streams."""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import pytest
from gateway_protos.v1 import world_pb2, world_pb2_grpc
from gateway_world.service import WorldReferenceService

from gateway_core.testing import ManualClock, StreamReader, serve_on_loopback

VIEW_RADIUS = 1000.0
QUEUE_LIMIT = 16
EVENT_TIMEOUT = 5.0


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """asyncio (grpc.aio); module scope keeps one event loop per module, so no grpc callback
    of a finished test ever targets a closed loop."""
    return "asyncio"


def pos(x: float, y: float, z: int = 0) -> world_pb2.Position:
    return world_pb2.Position(x=x, y=y, z=z)


class RawGateway(StreamReader[world_pb2.WorldEvent]):
    """One gateway's Connect stream, driven request by request (each its own batch); the
    events of the batches it receives are read one by one (:attr:`batch_sizes` keeps how many
    each batch carried; `placed` events are left out unless ``keep_placed``)."""

    def __init__(
        self,
        call: grpc.aio.StreamStreamCall[world_pb2.WorldRequestBatch, world_pb2.WorldEventBatch],
        outbox: asyncio.Queue[world_pb2.WorldRequest | world_pb2.WorldRequestBatch | None],
        *,
        keep_placed: bool = False,
    ) -> None:
        super().__init__(call, timeout=EVENT_TIMEOUT)
        self.outbox = outbox
        self.ids = itertools.count(1)
        self.batch_sizes: list[int] = []
        #: Keep the `placed` events (the service's position of the gateway's own characters,
        #: after each move and stop); most tests are about what the others see and skip them.
        self.keep_placed = keep_placed

    async def _pump(self) -> None:
        try:
            while True:
                batch = await self.call.read()
                if batch is grpc.aio.EOF:
                    return
                kept = [
                    event
                    for event in batch.events
                    if self.keep_placed or event.WhichOneof("event") != "placed"
                ]
                self.batch_sizes.append(len(kept))
                for event in kept:
                    self.events.put_nowait(event)
        except grpc.aio.AioRpcError:
            return
        finally:
            self.ended.set()

    async def request(self, **body: object) -> world_pb2.WorldEvent:
        """Send one request with a fresh id and return its ack or rejected event; events
        before it are kept for :meth:`next`."""
        request_id = next(self.ids)
        self.outbox.put_nowait(world_pb2.WorldRequest(request_id=request_id, **body))  # type: ignore[arg-type]
        skipped: list[world_pb2.WorldEvent] = []
        while True:
            event = await self.next()
            answer = event.ack if event.HasField("ack") else event.rejected
            if event.WhichOneof("event") in ("ack", "rejected") and answer.request_id == request_id:
                for other in reversed(skipped):
                    _push_front(self.events, other)
                return event
            skipped.append(event)

    async def ok(self, **body: object) -> world_pb2.Ack:
        event = await self.request(**body)
        assert event.HasField("ack"), event
        return event.ack

    async def rejected(self, **body: object) -> world_pb2.Rejected:
        event = await self.request(**body)
        assert event.HasField("rejected"), event
        return event.rejected

    async def enter(
        self, character_id: int, x: float, y: float, *, map_id: int = 1, ready: bool = True
    ) -> int:
        ack = await self.ok(
            enter=world_pb2.EnterMap(
                character_id=character_id,
                name=f"char{character_id}",
                map_id=map_id,
                position=pos(x, y),
                look=world_pb2.PlayerLook(level=10, run_speed=500),
            )
        )
        if ready:
            await self.ok(ready=world_pb2.Ready(character_id=character_id))
        return ack.object_id

    async def expect(self, kind: str) -> world_pb2.WorldEvent:
        event = await self.next()
        assert event.WhichOneof("event") == kind, event
        return event

    async def marker(self, character_id: int) -> None:
        """Proves nothing else is queued for this gateway: the character's own chat line is
        the very next event."""
        self.outbox.put_nowait(
            world_pb2.WorldRequest(
                chat=world_pb2.NormalChat(character_id=character_id, message="marker")
            )
        )
        event = await self.next()
        assert event.WhichOneof("event") == "said" and event.said.message == "marker", event


def _push_front(queue: asyncio.Queue[world_pb2.WorldEvent], event: world_pb2.WorldEvent) -> None:
    items = [event]
    while not queue.empty():
        items.append(queue.get_nowait())
    for item in items:
        queue.put_nowait(item)


@dataclass
class WorldHarness:
    stub: world_pb2_grpc.WorldAsyncStub
    service: WorldReferenceService
    clock: ManualClock
    address: str
    gateways: list[RawGateway] = field(default_factory=list)

    def open(
        self, first: world_pb2.WorldRequest | None, *, keep_placed: bool = False
    ) -> RawGateway:
        outbox: asyncio.Queue[world_pb2.WorldRequest | world_pb2.WorldRequestBatch | None] = (
            asyncio.Queue()
        )
        if first is not None:
            outbox.put_nowait(first)

        async def requests() -> AsyncIterator[world_pb2.WorldRequestBatch]:
            while (item := await outbox.get()) is not None:
                if isinstance(item, world_pb2.WorldRequestBatch):
                    yield item
                else:
                    yield world_pb2.WorldRequestBatch(requests=[item])

        gateway = RawGateway(self.stub.Connect(requests()), outbox, keep_placed=keep_placed)
        gateway.start()
        self.gateways.append(gateway)
        return gateway

    async def connect(self, gateway_id: str, *, keep_placed: bool = False) -> RawGateway:
        gateway = self.open(
            world_pb2.WorldRequest(hello=world_pb2.Hello(gateway_id=gateway_id)),
            keep_placed=keep_placed,
        )
        welcome = await gateway.expect("welcome")
        assert welcome.welcome.gateway_id == gateway_id
        return gateway

    def tick(self, seconds: float) -> None:
        self.clock.now += seconds
        self.service.state.tick()


@pytest.fixture
async def world() -> AsyncIterator[WorldHarness]:
    clock = ManualClock(1000.0)
    # A tick interval of an hour: the tests tick by hand with the fake clock. No content and
    # no position correction: these tests place characters freely (tests/service/
    # test_world_content.py covers both).
    service = WorldReferenceService(
        view_radius=VIEW_RADIUS,
        queue_limit=QUEUE_LIMIT,
        tick_interval=3600.0,
        clock=clock,
        position_tolerance=math.inf,
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
