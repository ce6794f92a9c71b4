"""The gateway side of the world stream: a batch of events becomes packets (one per event,
encoded once for all its recipients, conversions reused), delivered in order in one go; the
link hands a batch over in one call; a full outbox suspends the sender until room appears, for
a bounded time."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import pytest
from gateway_protos.v1 import world_pb2, world_pb2_grpc
from gateway_world.delivery import Delivery, WorldLink, event_packet

from gateway_core.api import (
    ConnectionRegistry,
    Packet,
    RawFrame,
    Session,
    SrvMouseCmd,
    SrvNormalChat,
    SrvRemoveObject,
    get_profile,
)
from gateway_core.protocol.connection import encode_packet

from .conftest import EVENT_TIMEOUT, pos

pytestmark = pytest.mark.anyio

PROFILE = get_profile("2026")


@dataclass
class Recorder:
    """A connection's send side that keeps what was queued to it."""

    queued: list[bytes] = field(default_factory=list)
    closed: bool = False

    def send_packet(self, packet: Packet | RawFrame) -> None:
        raise AssertionError("world deliveries are broadcast (encoded once)")

    def send_encoded(self, data: bytes, type_name: str) -> None:
        self.queued.append(data)

    def close(self, reason: str) -> None:
        self.closed = True


class CountingEncoder:
    """The gateway's encoder (plain cipher, 2026 numbering), counting its calls."""

    def __init__(self) -> None:
        self.calls = 0
        self._encode = functools.partial(encode_packet, profile=PROFILE)

    def __call__(self, packet: Packet | RawFrame) -> bytes:
        self.calls += 1
        return self._encode(packet)


def wire(packet: Packet) -> bytes:
    return encode_packet(packet, profile=PROFILE)


def spawn_event(recipients: list[int], object_id: int, x: float) -> world_pb2.WorldEvent:
    return world_pb2.WorldEvent(
        recipient_character_ids=recipients,
        spawn=world_pb2.PlayerSpawn(
            object_id=object_id,
            character_id=object_id + 100,
            name=f"char{object_id}",
            position=pos(x, 7),
            destination=pos(x, 7),
            look=world_pb2.PlayerLook(level=9, equipment=[3, 4]),
        ),
    )


def test_a_batch_becomes_one_encoded_packet_per_event_and_each_recipient_its_own_in_order() -> None:
    encoder = CountingEncoder()
    registry = ConnectionRegistry(encode=encoder)
    recorders: dict[int, Recorder] = {}
    sessions: dict[int, Session] = {}
    for character_id in (1, 2, 3, 4):
        recorders[character_id] = Recorder()
        session = Session(character_id, outbox=recorders[character_id])
        registry.add(session)
        sessions[character_id] = session
    delivery = Delivery(sessions.get, registry.broadcast, PROFILE)
    moved = world_pb2.WorldEvent(
        recipient_character_ids=[1, 2, 3],
        moved=world_pb2.Moved(object_id=5, distance=40, destination=pos(10, 20, 3)),
    )
    batch = [
        spawn_event([1, 2, 3, 4], 5, 100.0),
        moved,
        world_pb2.WorldEvent(
            recipient_character_ids=[2, 99],  # 99: not on this gateway (any more)
            removed=world_pb2.ObjectRemoved(object_id=5),
        ),
        world_pb2.WorldEvent(
            recipient_character_ids=[4, 1],
            said=world_pb2.ChatSaid(object_id=6, message="hi"),
        ),
        spawn_event([2], 5, 100.0),  # the same spawn again: converted once
        world_pb2.WorldEvent(
            recipient_character_ids=[3],
            removed=world_pb2.ObjectRemoved(object_id=5),  # the same removal: converted once
        ),
        world_pb2.WorldEvent(rejected=world_pb2.Rejected(message="no")),
    ]
    delivery.deliver_batch(batch)

    # One encode per event that reached someone, whatever the number of its recipients.
    assert encoder.calls == 6
    assert delivery.converted == 4  # spawn, move, removal, chat: the repeats came from the cache
    assert (delivery.events, delivery.rejected, delivery.failed) == (7, 1, 0)
    assert delivery.packets == 4 + 3 + 1 + 2 + 1 + 1
    spawn = event_packet(batch[0], PROFILE)
    assert isinstance(spawn, Packet)
    spawn_bytes = wire(spawn)
    move_bytes = wire(SrvMouseCmd(id=5, target_id=0, distance=40, x=10.0, y=20.0, z=3))
    removal_bytes = wire(SrvRemoveObject(id=5))
    chat_bytes = wire(SrvNormalChat(char_id=6, message=b"hi"))
    assert recorders[1].queued == [spawn_bytes, move_bytes, chat_bytes]
    assert recorders[2].queued == [spawn_bytes, move_bytes, removal_bytes, spawn_bytes]
    assert recorders[3].queued == [spawn_bytes, move_bytes, removal_bytes]
    assert recorders[4].queued == [spawn_bytes, chat_bytes]


def test_a_closed_connection_and_an_unknown_action_are_skipped_not_fatal() -> None:
    encoder = CountingEncoder()
    registry = ConnectionRegistry(encode=encoder)
    open_one, closed_one = Recorder(), Recorder(closed=True)
    sessions = {1: Session(1, outbox=open_one), 2: Session(2, outbox=closed_one)}
    for session in sessions.values():
        registry.add(session)
    delivery = Delivery(sessions.get, registry.broadcast, PROFILE)
    delivery.deliver_batch(
        [
            world_pb2.WorldEvent(
                recipient_character_ids=[1, 2],
                action=world_pb2.GameActionDelivery(packet_name="PAKWC_NO_SUCH", payload=b"x"),
            ),
            world_pb2.WorldEvent(
                recipient_character_ids=[2, 1],
                action=world_pb2.GameActionDelivery(
                    packet_name="PACWC_SET_ANIMATION", payload=b"\x01\x00\x02\x00\x03\x00"
                ),
            ),
        ]
    )
    assert delivery.failed == 1
    info = PROFILE.by_name("PACWC_SET_ANIMATION")
    assert open_one.queued == [
        encode_packet(RawFrame(info.value, info.name, b"\x01\x00\x02\x00\x03\x00"), profile=PROFILE)
    ]
    assert closed_one.queued == [] and delivery.packets == 1


def test_an_event_too_large_for_a_packet_is_skipped_and_the_batch_goes_on() -> None:
    # Backend data is untrusted: an action payload past the largest packet cannot be encoded;
    # it is counted and the events after it in the batch are still delivered.
    registry = ConnectionRegistry(encode=CountingEncoder())
    outbox = Recorder()
    sessions = {1: Session(1, outbox=outbox)}
    registry.add(sessions[1])
    delivery = Delivery(sessions.get, registry.broadcast, PROFILE)
    delivery.deliver_batch(
        [
            world_pb2.WorldEvent(
                recipient_character_ids=[1],
                action=world_pb2.GameActionDelivery(
                    packet_name="PACWC_SET_ANIMATION", payload=b"x" * 5000
                ),
            ),
            world_pb2.WorldEvent(
                recipient_character_ids=[1], removed=world_pb2.ObjectRemoved(object_id=9)
            ),
        ]
    )
    assert delivery.failed == 1
    assert outbox.queued == [wire(SrvRemoveObject(id=9))]


# -- the link against a world service that reads only when told --------------------------------


class HeldWorld(world_pb2_grpc.WorldServicer):
    """A world service that welcomes, sends the batches it is given, and reads the gateway's
    requests only once :attr:`reading` is set (until then they back up to the gateway)."""

    def __init__(self) -> None:
        self.reading = asyncio.Event()
        self.requests: list[world_pb2.WorldRequest] = []
        self.request_batches = 0
        self.to_send: asyncio.Queue[world_pb2.WorldEventBatch] = asyncio.Queue()
        self.arrived = asyncio.Event()

    async def Connect(
        self, request_iterator: AsyncIterator[world_pb2.WorldRequestBatch], context: object
    ) -> AsyncIterator[world_pb2.WorldEventBatch]:
        first = await anext(aiter(request_iterator))
        hello = first.requests[0].hello
        self.requests.extend(first.requests[1:])
        yield world_pb2.WorldEventBatch(
            events=[
                world_pb2.WorldEvent(
                    welcome=world_pb2.Welcome(gateway_id=hello.gateway_id, view_radius=100)
                )
            ]
        )
        reader = asyncio.get_running_loop().create_task(self._read(request_iterator))
        try:
            while True:
                yield await self.to_send.get()
        finally:
            reader.cancel()

    async def _read(self, requests: AsyncIterator[world_pb2.WorldRequestBatch]) -> None:
        await self.reading.wait()
        async for batch in requests:
            self.request_batches += 1
            self.requests.extend(batch.requests)
            self.arrived.set()


@pytest.fixture
async def held() -> AsyncIterator[tuple[HeldWorld, world_pb2_grpc.WorldAsyncStub]]:
    servicer = HeldWorld()
    # A small receive window: unread requests back up to the gateway after a few kilobytes.
    server = grpc.aio.server(
        options=[("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", 1024)]
    )
    world_pb2_grpc.add_WorldServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield servicer, world_pb2_grpc.WorldStub(channel)
    finally:
        await server.stop(0)


async def _wait_for(condition: asyncio.Event) -> None:
    await asyncio.wait_for(condition.wait(), EVENT_TIMEOUT)


async def test_the_link_hands_a_batch_over_in_one_call(
    held: tuple[HeldWorld, world_pb2_grpc.WorldAsyncStub],
) -> None:
    servicer, stub = held
    calls: list[list[world_pb2.WorldEvent]] = []
    got = asyncio.Event()

    def on_batch(events: object) -> None:
        calls.append(list(events))  # type: ignore[call-overload]
        got.set()

    link = WorldLink(stub, "gw-a", lambda event: None, on_batch=on_batch)
    link.start()
    try:
        await asyncio.wait_for(link.wait_connected(), EVENT_TIMEOUT)
        events = [
            world_pb2.WorldEvent(
                recipient_character_ids=[n],
                said=world_pb2.ChatSaid(object_id=n, message=f"line {n}"),
            )
            for n in range(1, 51)
        ]
        servicer.to_send.put_nowait(
            world_pb2.WorldEventBatch(
                events=[*events[:25], world_pb2.WorldEvent(ack=world_pb2.Ack()), *events[25:]]
            )
        )
        await _wait_for(got)
        assert calls == [events]  # one call, the ack taken out, the order kept
        assert (link.batches, link.events) == (2, 50)
    finally:
        await link.aclose()


async def test_a_full_outbox_suspends_the_sender_until_room_appears(
    held: tuple[HeldWorld, world_pb2_grpc.WorldAsyncStub],
) -> None:
    servicer, stub = held
    link = WorldLink(stub, "gw-a", lambda event: None, outbox_limit=4, outbox_wait=60.0)
    link.start()
    try:
        await asyncio.wait_for(link.wait_connected(), EVENT_TIMEOUT)
        # Fill the outbox: the service reads nothing, so the stream soon takes no more.
        sent = 0
        while link.say(1, f"{sent:04d}" + "x" * 1800):
            sent += 1
            assert sent < 10_000  # bounded: a few kilobytes of window, then 4 in the outbox
            await asyncio.sleep(0)
        assert link.dropped_requests == 1  # the one that found it full, without waiting
        waiting = asyncio.get_running_loop().create_task(link.asay(1, "last"))
        await asyncio.sleep(0.05)
        assert not waiting.done()  # suspended: nothing drains the outbox
        assert link.paced_requests == 1
        servicer.reading.set()  # room appears
        assert await asyncio.wait_for(waiting, EVENT_TIMEOUT) is True
        while len(servicer.requests) < sent + 1:  # the lines, the last one
            servicer.arrived.clear()
            await _wait_for(servicer.arrived)
        lines = [r.chat.message for r in servicer.requests]
        assert lines[:-1] == [f"{n:04d}" + "x" * 1800 for n in range(sent)]
        assert lines[-1] == "last"
        assert servicer.request_batches < sent + 1  # what backed up left in fewer messages
        assert (link.dropped_requests, link.paced_requests) == (1, 1)
    finally:
        await link.aclose()


async def test_a_sender_that_finds_no_room_in_time_is_dropped_and_counted(
    held: tuple[HeldWorld, world_pb2_grpc.WorldAsyncStub],
) -> None:
    servicer, stub = held
    link = WorldLink(stub, "gw-a", lambda event: None, outbox_limit=2, outbox_wait=0.01)
    link.start()
    try:
        await asyncio.wait_for(link.wait_connected(), EVENT_TIMEOUT)
        sent = 0
        while link.say(1, "x" * 1800):
            sent += 1
            assert sent < 10_000
            await asyncio.sleep(0)
        assert await link.amove(1, 0, pos(1, 1)) is False
        assert (link.dropped_requests, link.paced_requests) == (2, 1)
        servicer.reading.set()
        # The stream goes on: a later request gets through.
        while not await link.asay(1, "after"):
            await asyncio.sleep(0)
    finally:
        await link.aclose()


# --- NPCs, monsters and the service's positions -------------------------------------------------


def test_npc_and_monster_spawns_become_their_packets() -> None:
    from gateway_core.api import SrvMobChar, SrvNpcChar

    npc = event_packet(
        world_pb2.WorldEvent(
            npc_spawn=world_pb2.NpcSpawn(
                object_id=0x8000, npc_type=1001, position=pos(10, 20), direction=90.0, hp=1
            )
        ),
        PROFILE,
    )
    assert isinstance(npc, SrvNpcChar)
    assert (npc.id, npc.npc_id, npc.x, npc.y, npc.dest_x, npc.angle, npc.hp) == (
        0x8000, 1001, 10.0, 20.0, 10.0, 90.0, 1,
    )
    mob = event_packet(
        world_pb2.WorldEvent(
            monster_spawn=world_pb2.MonsterSpawn(
                object_id=0x8001, monster_type=3, position=pos(1, 2), destination=pos(5, 6),
                moving=True, hp=90,
            )
        ),
        PROFILE,
    )
    assert isinstance(mob, SrvMobChar)
    assert (mob.id, mob.npc_id, mob.x, mob.dest_x, mob.dest_y, mob.command, mob.hp) == (
        0x8001, 3, 1.0, 5.0, 6.0, 1, 90,
    )


def test_a_placed_event_is_a_packet_only_when_it_corrects() -> None:
    from gateway_core.api import SrvSetPosition

    placed = world_pb2.Placed(object_id=7, position=pos(100, 200, 3))
    assert event_packet(world_pb2.WorldEvent(placed=placed), PROFILE) is None
    placed.corrected = True
    assert event_packet(world_pb2.WorldEvent(placed=placed), PROFILE) == SrvSetPosition(
        char_id=7, x=100.0, y=200.0, z=3
    )


def test_delivery_tells_the_runtime_of_placed_and_rejected_events() -> None:
    session = object()
    seen: list[object] = []
    sent: list[object] = []
    delivery = Delivery(
        {1: session}.get,  # type: ignore[arg-type]
        lambda sessions, packet: sent.append(packet) or 1,  # type: ignore[func-returns-value]
        PROFILE,
        on_placed=lambda s, placed: seen.append((s, placed.position.x)),
        on_rejected=lambda rejected: seen.append(rejected.reason),
    )
    delivery.deliver_batch([
        world_pb2.WorldEvent(recipient_character_ids=[1],
                             placed=world_pb2.Placed(object_id=7, position=pos(5, 0))),
        world_pb2.WorldEvent(rejected=world_pb2.Rejected(character_id=1, reason="out_of_bounds")),
    ])
    assert seen == [(session, 5.0), "out_of_bounds"]
    assert sent == []  # not corrected: no packet


def test_ground_items_become_drop_packets_with_their_count_and_owner() -> None:
    from gateway_core.api import SrvDropItem

    zuly = event_packet(world_pb2.WorldEvent(ground_item=world_pb2.GroundItem(
        object_id=0x8005, position=pos(10, 20), item_type=31, count=250, owner_object_id=3,
        seconds_left=90)), PROFILE)
    assert isinstance(zuly, SrvDropItem)
    assert (zuly.id, zuly.x, zuly.y, zuly.owner_id, zuly.time_to_live) == (
        0x8005, 10.0, 20.0, 3, 90)
    assert (zuly.item.header.type, zuly.item.data.count) == (31, 250)
    sword = event_packet(world_pb2.WorldEvent(ground_item=world_pb2.GroundItem(
        object_id=0x8006, item_type=8, item_number=12, count=1)), PROFILE)
    assert isinstance(sword, SrvDropItem)
    assert (sword.item.header.type, sword.item.header.id, sword.owner_id) == (8, 12, 0)


def test_a_progress_event_is_the_runtime_s_and_no_packet() -> None:
    session = object()
    seen: list[object] = []
    sent: list[object] = []
    delivery = Delivery(
        {1: session}.get,  # type: ignore[arg-type]
        lambda sessions, packet: sent.append(packet) or 1,  # type: ignore[func-returns-value]
        PROFILE,
        on_progress=lambda s, progress: seen.append((s, progress.combatant.xp)),
    )
    delivery.deliver(world_pb2.WorldEvent(recipient_character_ids=[1], progress=world_pb2.Progress(
        object_id=7, combatant=world_pb2.Combatant(level=2, xp=30))))
    assert seen == [(session, 30)] and sent == []
