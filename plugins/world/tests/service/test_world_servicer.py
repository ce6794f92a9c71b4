"""Every request and RPC of the reference world service over a real loopback grpc.aio server."""

from __future__ import annotations

import asyncio
import math
import struct
from collections.abc import AsyncIterator

import grpc
import pytest
from gateway_protos.v1 import world_pb2, world_pb2_grpc

from ..conftest import VIEW_RADIUS, WorldHarness, pos

pytestmark = pytest.mark.anyio

INVALID = grpc.StatusCode.INVALID_ARGUMENT.value[0]
NOT_FOUND = grpc.StatusCode.NOT_FOUND.value[0]
PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION.value[0]
UNIMPLEMENTED = grpc.StatusCode.UNIMPLEMENTED.value[0]


# -- the stream -----------------------------------------------------------------------------


async def test_connect_welcomes_with_view_radius(world: WorldHarness) -> None:
    gateway = world.open(world_pb2.WorldRequest(hello=world_pb2.Hello(gateway_id="gw-a")))
    welcome = (await gateway.expect("welcome")).welcome
    assert (welcome.gateway_id, welcome.view_radius, welcome.queue_limit) == ("gw-a", 1000.0, 16)


@pytest.mark.parametrize(
    "first",
    [
        world_pb2.WorldRequest(ready=world_pb2.Ready(character_id=1)),
        world_pb2.WorldRequest(hello=world_pb2.Hello(gateway_id="")),
        world_pb2.WorldRequest(hello=world_pb2.Hello(gateway_id="g" * 65)),
    ],
)
async def test_connect_requires_valid_hello_first(
    world: WorldHarness, first: world_pb2.WorldRequest
) -> None:
    gateway = world.open(first)
    await gateway.ended.wait()
    assert await gateway.call.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_second_hello_is_rejected_and_stream_stays(world: WorldHarness) -> None:
    gateway = await world.connect("gw-a")
    rejected = await gateway.rejected(hello=world_pb2.Hello(gateway_id="gw-a"))
    assert rejected.code == PRECONDITION
    await gateway.enter(1, 0, 0)


async def test_empty_request_is_rejected(world: WorldHarness) -> None:
    gateway = await world.connect("gw-a")
    assert (await gateway.rejected()).code == INVALID


async def test_same_gateway_id_replaces_old_stream(world: WorldHarness) -> None:
    old = await world.connect("gw-a")
    await old.enter(1, 0, 0)
    await world.connect("gw-a")
    await old.ended.wait()
    assert await old.call.code() == grpc.StatusCode.ABORTED
    stats = await world.stub.GetStats(world_pb2.WorldStatsRequest())
    assert (stats.gateways, stats.characters, stats.replaced_gateways) == (1, 0, 1)


async def test_stream_end_takes_characters_off_map(world: WorldHarness) -> None:
    a = await world.connect("gw-a")
    b = await world.connect("gw-b")
    a_id = await a.enter(1, 0, 0)
    await b.enter(2, 10, 10)
    await b.expect("spawn")
    a.outbox.put_nowait(None)  # gateway A closes its side
    removed = await b.expect("removed")
    assert removed.removed.object_id == a_id
    assert list(removed.recipient_character_ids) == [2]
    await a.ended.wait()
    assert await a.call.code() == grpc.StatusCode.OK
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await world.stub.GetPresence(world_pb2.GetPresenceRequest(character_id=1))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


# -- enter / ready / object ids -------------------------------------------------------------


async def test_enter_allocates_distinct_object_ids_per_map(world: WorldHarness) -> None:
    gateway = await world.connect("gw-a")
    first = await gateway.enter(1, 0, 0, ready=False)
    second = await gateway.enter(2, 0, 0, ready=False)
    other_map = await gateway.enter(3, 0, 0, map_id=2, ready=False)
    assert 0 < first != second
    assert other_map > 0


async def test_released_object_id_is_not_reused_while_live(world: WorldHarness) -> None:
    gateway = await world.connect("gw-a")
    first = await gateway.enter(1, 0, 0, ready=False)
    second = await gateway.enter(2, 0, 0, ready=False)
    await gateway.ok(leave=world_pb2.LeaveMap(character_id=1))
    third = await gateway.enter(3, 0, 0, ready=False)
    assert third not in (second,)
    assert third != first  # round robin: a just-released id is not handed out at once
    # A requested id is honoured when free, ignored when taken.
    ack = await gateway.ok(
        enter=world_pb2.EnterMap(character_id=4, name="d", map_id=1, requested_object_id=first)
    )
    assert ack.object_id == first
    ack = await gateway.ok(
        enter=world_pb2.EnterMap(character_id=5, name="e", map_id=1, requested_object_id=second)
    )
    assert ack.object_id not in (first, second, third)


async def test_enter_again_replaces_presence(world: WorldHarness) -> None:
    a = await world.connect("gw-a")
    b = await world.connect("gw-b")
    await a.enter(1, 0, 0)
    await b.enter(1, 0, 0, ready=False)
    presence = await world.stub.GetPresence(world_pb2.GetPresenceRequest(character_id=1))
    assert presence.gateway_id == "gw-b" and presence.ready is False
    assert (await a.rejected(ready=world_pb2.Ready(character_id=1))).code == PRECONDITION


@pytest.mark.parametrize("x, y", [(math.nan, 0.0), (0.0, 1e9), (3e38, -3e38)])
async def test_enter_at_no_map_coordinate_lands_on_the_origin_of_a_bare_map(
    world: WorldHarness, x: float, y: float
) -> None:
    # An impossible stored point must not lock the character out: it lands somewhere
    # possible (the map's spawn point when the pack defines the map; bare maps: the origin).
    gateway = await world.connect("gw-a")
    event = await gateway.request(
        enter=world_pb2.EnterMap(character_id=1, name="a", map_id=5, position=pos(x, y)))
    assert event.HasField("ack"), event
    assert (event.ack.map_id, event.ack.position.x, event.ack.position.y) == (5, 0.0, 0.0)


@pytest.mark.parametrize(
    ("enter", "field"),
    [
        (world_pb2.EnterMap(character_id=0, name="a"), "character_id"),
        (world_pb2.EnterMap(character_id=1, name=""), "name"),
        (world_pb2.EnterMap(character_id=1, name="n" * 33), "name"),
        (world_pb2.EnterMap(character_id=1, name="a", map_id=65536), "map_id"),
        (world_pb2.EnterMap(character_id=1, name="a", position=pos(0, 0, 70000)), "position.z"),
        (
            world_pb2.EnterMap(character_id=1, name="a", look=world_pb2.PlayerLook(level=256)),
            "look.level",
        ),
        (
            world_pb2.EnterMap(
                character_id=1, name="a", look=world_pb2.PlayerLook(equipment=[1] * 9)
            ),
            "look.equipment",
        ),
        (
            world_pb2.EnterMap(
                character_id=1, name="a", look=world_pb2.PlayerLook(run_speed=40000)
            ),
            "look.run_speed",
        ),
        (
            world_pb2.EnterMap(character_id=1, name="a", requested_object_id=65536),
            "requested_object_id",
        ),
    ],
)
async def test_enter_rejects_bad_arguments(
    world: WorldHarness, enter: world_pb2.EnterMap, field: str
) -> None:
    gateway = await world.connect("gw-a")
    rejected = await gateway.rejected(enter=enter)
    assert rejected.code == INVALID and field in rejected.message


async def test_requests_for_unknown_or_foreign_characters_are_rejected(world: WorldHarness) -> None:
    a = await world.connect("gw-a")
    b = await world.connect("gw-b")
    await a.enter(1, 0, 0)
    assert (await b.rejected(ready=world_pb2.Ready(character_id=9))).code == NOT_FOUND
    assert (await b.rejected(leave=world_pb2.LeaveMap(character_id=1))).code == PRECONDITION
    assert (await b.rejected(ready=world_pb2.Ready(character_id=0))).code == INVALID


async def test_ready_exchanges_spawns_within_view_radius_only(world: WorldHarness) -> None:
    a = await world.connect("gw-a")
    b = await world.connect("gw-b")
    a_id = await a.enter(1, 5000, 5000)
    b_id = await b.enter(2, 5000 + VIEW_RADIUS * 0.6, 5000 + VIEW_RADIUS * 0.6, ready=False)
    await b.ok(ready=world_pb2.Ready(character_id=2))
    seen_by_b = await b.expect("spawn")
    assert seen_by_b.spawn.object_id == a_id and seen_by_b.spawn.name == "char1"
    assert seen_by_b.spawn.look.level == 10
    seen_by_a = await a.expect("spawn")
    assert seen_by_a.spawn.object_id == b_id
    assert list(seen_by_a.recipient_character_ids) == [1]
    # A third one, far away on the same map, sees nobody and is seen by nobody.
    await b.enter(3, 5000 + VIEW_RADIUS * 3, 5000)
    await a.marker(1)
    await b.marker(2)


# -- movement -------------------------------------------------------------------------------


async def test_move_reaches_mover_and_viewers_not_others(world: WorldHarness) -> None:
    a = await world.connect("gw-a")
    b = await world.connect("gw-b")
    a_id = await a.enter(1, 0, 0)
    await b.enter(2, 100, 0)
    await b.enter(3, VIEW_RADIUS * 5, 0)  # out of view
    await a.expect("spawn")
    await b.expect("spawn")
    a.outbox.put_nowait(
        world_pb2.WorldRequest(
            move=world_pb2.MoveTo(character_id=1, target_object_id=0, destination=pos(0, 300, 7))
        )
    )
    for gateway, expected in ((a, [1]), (b, [2])):
        moved = await gateway.expect("moved")
        assert list(moved.recipient_character_ids) == expected
        assert moved.moved.object_id == a_id
        assert (moved.moved.destination.y, moved.moved.destination.z, moved.moved.distance) == (
            300,
            7,
            300,
        )
    await b.marker(3)  # character 3's gateway got nothing before its own marker


async def test_walking_into_view_spawns_both_ways(world: WorldHarness) -> None:
    a = await world.connect("gw-a")
    b = await world.connect("gw-b")
    await a.enter(1, 0, 0)
    b_id = await b.enter(2, 3000, 0)
    # run_speed 500: 4 s of walking cover 2000 units, ending 1000 - 0 = within radius.
    await a.ok(move=world_pb2.MoveTo(character_id=1, destination=pos(2000, 0)))
    await a.expect("moved")
    world.tick(2.0)  # at x=1000: 2000 away, still out of view
    await a.marker(1)
    world.tick(2.0)  # arrived at x=2000: 1000 away, in view
    assert (await a.expect("spawn")).spawn.object_id == b_id
    assert (await b.expect("spawn")).spawn.position.x == 2000
    presence = await world.stub.GetPresence(world_pb2.GetPresenceRequest(character_id=1))
    assert (presence.position.x, presence.moving) == (2000, False)


async def test_stop_tells_viewers_not_self(world: WorldHarness) -> None:
    a = await world.connect("gw-a")
    b = await world.connect("gw-b")
    a_id = await a.enter(1, 0, 0)
    await b.enter(2, 100, 0)
    await a.expect("spawn")
    await b.expect("spawn")
    ack = await a.ok(stop=world_pb2.StopMoving(character_id=1, position=pos(50, 0, 3)))
    assert (ack.position.x, ack.position.z) == (50, 3)
    stopped = await b.expect("stopped")
    assert stopped.stopped.object_id == a_id and stopped.stopped.position.x == 50
    await a.marker(1)


async def test_movement_requires_ready_and_valid_arguments(world: WorldHarness) -> None:
    gateway = await world.connect("gw-a")
    await gateway.enter(1, 0, 0, ready=False)
    move = world_pb2.MoveTo(character_id=1, destination=pos(1, 1))
    assert (await gateway.rejected(move=move)).code == PRECONDITION
    await gateway.ok(ready=world_pb2.Ready(character_id=1))
    bad = world_pb2.MoveTo(character_id=1, destination=pos(math.inf, 1))
    assert (await gateway.rejected(move=bad)).code == INVALID
    bad = world_pb2.MoveTo(character_id=1, target_object_id=70000, destination=pos(1, 1))
    assert (await gateway.rejected(move=bad)).code == INVALID
    bad_stop = world_pb2.StopMoving(character_id=1, position=pos(1, 1, 65536))
    assert (await gateway.rejected(stop=bad_stop)).code == INVALID


# -- teleport / leave -----------------------------------------------------------------------


async def test_teleport_to_other_map_removes_and_needs_ready(world: WorldHarness) -> None:
    a = await world.connect("gw-a")
    b = await world.connect("gw-b")
    a_id = await a.enter(1, 0, 0)
    await b.enter(2, 100, 0)
    await b.enter(3, 0, 0, map_id=2)
    await a.expect("spawn")
    await b.expect("spawn")
    ack = await a.ok(teleport=world_pb2.Teleport(character_id=1, map_id=2, position=pos(10, 0)))
    assert ack.map_id == 2 and ack.object_id > 0
    removed = await b.expect("removed")
    assert removed.removed.object_id == a_id and list(removed.recipient_character_ids) == [2]
    await b.marker(3)  # not visible on map 2 before ready
    await a.ok(ready=world_pb2.Ready(character_id=1))
    assert (await b.expect("spawn")).spawn.object_id == ack.object_id


async def test_teleport_on_same_map_updates_visibility(world: WorldHarness) -> None:
    a = await world.connect("gw-a")
    b = await world.connect("gw-b")
    a_id = await a.enter(1, 0, 0)
    await b.enter(2, 100, 0)
    await a.expect("spawn")
    await b.expect("spawn")
    ack = await a.ok(teleport=world_pb2.Teleport(character_id=1, map_id=1, position=pos(9000, 0)))
    assert ack.object_id == a_id
    assert (await b.expect("removed")).removed.object_id == a_id
    bad = world_pb2.Teleport(character_id=1, map_id=70000, position=pos(0, 0))
    assert (await a.rejected(teleport=bad)).code == INVALID


async def test_leave_removes_from_viewers(world: WorldHarness) -> None:
    a = await world.connect("gw-a")
    b = await world.connect("gw-b")
    a_id = await a.enter(1, 0, 0)
    await b.enter(2, 100, 0)
    await a.expect("spawn")
    await b.expect("spawn")
    ack = await a.ok(leave=world_pb2.LeaveMap(character_id=1))
    assert (ack.map_id, ack.object_id) == (0, 0)
    assert (await b.expect("removed")).removed.object_id == a_id
    assert (await a.rejected(leave=world_pb2.LeaveMap(character_id=1))).code == NOT_FOUND


# -- chat and game actions ------------------------------------------------------------------


async def test_normal_chat_reaches_speaker_and_viewers(world: WorldHarness) -> None:
    a = await world.connect("gw-a")
    b = await world.connect("gw-b")
    a_id = await a.enter(1, 0, 0)
    await b.enter(2, 100, 0)
    await b.enter(3, 0, VIEW_RADIUS * 2)
    await a.expect("spawn")
    await b.expect("spawn")
    await a.ok(chat=world_pb2.NormalChat(character_id=1, message="hello"))
    said = await b.expect("said")
    assert (said.said.object_id, said.said.message) == (a_id, "hello")
    assert list(said.recipient_character_ids) == [2]
    assert list((await a.expect("said")).recipient_character_ids) == [1]


@pytest.mark.parametrize("message", ["", "x" * 1901, "a\x00b"])
async def test_normal_chat_rejects_bad_message(world: WorldHarness, message: str) -> None:
    gateway = await world.connect("gw-a")
    await gateway.enter(1, 0, 0)
    chat = world_pb2.NormalChat(character_id=1, message=message)
    assert (await gateway.rejected(chat=chat)).code == INVALID


async def test_set_animation_action_is_relayed_nearby(world: WorldHarness) -> None:
    a = await world.connect("gw-a")
    b = await world.connect("gw-b")
    a_id = await a.enter(1, 0, 0)
    await b.enter(2, 100, 0)
    await a.expect("spawn")
    await b.expect("spawn")
    await a.ok(
        action=world_pb2.GameAction(
            character_id=1, packet_name="PAKCS_SET_ANIMATION", payload=struct.pack("<HH", 4, 1)
        )
    )
    for gateway in (a, b):
        action = (await gateway.expect("action")).action
        assert action.packet_name == "PACWC_SET_ANIMATION"
        assert action.payload == struct.pack("<HHH", 4, 1, a_id)


@pytest.mark.parametrize(
    ("name", "payload", "code"),
    [
        ("PAKCS_PARTY_REQ", b"\x01\x00", UNIMPLEMENTED),
        ("PAKCS_SET_ANIMATION", b"\x01", INVALID),
        ("", b"", INVALID),
        ("PAKCS_SET_ANIMATION", b"\x00" * 2042, INVALID),
    ],
)
async def test_game_action_errors(
    world: WorldHarness, name: str, payload: bytes, code: int
) -> None:
    gateway = await world.connect("gw-a")
    await gateway.enter(1, 0, 0)
    action = world_pb2.GameAction(character_id=1, packet_name=name, payload=payload)
    assert (await gateway.rejected(action=action)).code == code


# -- unary queries --------------------------------------------------------------------------


async def test_get_presence_and_stats(world: WorldHarness) -> None:
    gateway = await world.connect("gw-a")
    object_id = await gateway.enter(1, 10, 20)
    presence = await world.stub.GetPresence(world_pb2.GetPresenceRequest(character_id=1))
    assert (presence.gateway_id, presence.map_id, presence.object_id) == ("gw-a", 1, object_id)
    assert (presence.position.x, presence.position.y, presence.ready) == (10, 20, True)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await world.stub.GetPresence(world_pb2.GetPresenceRequest(character_id=0))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    await gateway.rejected(ready=world_pb2.Ready(character_id=5))
    stats = await world.stub.GetStats(world_pb2.WorldStatsRequest())
    assert (stats.gateways, stats.characters, stats.rejected_requests) == (1, 1, 1)
    assert stats.events >= 3


# -- batches --------------------------------------------------------------------------------


async def test_the_events_of_one_tick_share_one_batch(world: WorldHarness) -> None:
    a = await world.connect("gw-a")
    b = await world.connect("gw-b")
    await a.enter(1, 0, 0)
    for character_id in (2, 3, 4):
        await b.enter(character_id, 10.0 * character_id, 0)
    for gateway, character_id in ((a, 1), (b, 2)):
        # Everything queued for the gateway comes before the answer: skip it.
        await gateway.ok(ready=world_pb2.Ready(character_id=character_id))
        while not gateway.events.empty():
            gateway.events.get_nowait()
    # One request batch: twelve chat lines, then a stop that wants an answer (13 events per
    # gateway: within the queue limit of 16).
    lines = [
        world_pb2.WorldRequest(chat=world_pb2.NormalChat(character_id=1, message=f"line {n}"))
        for n in range(12)
    ]
    stop = world_pb2.WorldRequest(
        request_id=999, stop=world_pb2.StopMoving(character_id=1, position=pos(5, 0))
    )
    a_batches, b_batches = len(a.batch_sizes), len(b.batch_sizes)
    a.outbox.put_nowait(world_pb2.WorldRequestBatch(requests=[*lines, stop]))
    for n in range(12):
        said = await a.expect("said")
        assert (said.said.message, list(said.recipient_character_ids)) == (f"line {n}", [1])
    assert (await a.expect("ack")).ack.request_id == 999
    # The answer went at once, in the same message as the lines before it.
    assert a.batch_sizes[a_batches:] == [13]
    for n in range(12):
        said = await b.expect("said")
        assert said.said.message == f"line {n}"
        assert sorted(said.recipient_character_ids) == [2, 3, 4]  # one event for all three
    stopped = await b.expect("stopped")
    assert sorted(stopped.recipient_character_ids) == [2, 3, 4]
    # The other gateway got the tick's 13 events in one message.
    assert b.batch_sizes[b_batches:] == [13]
    stats = await world.stub.GetStats(world_pb2.WorldStatsRequest())
    assert stats.batches >= 2 and stats.dropped_events == 0


# -- backpressure ---------------------------------------------------------------------------


class ViewModel:
    """What a gateway's clients show: per character, the object ids spawned and not removed
    (a spawn of a shown object replaces it)."""

    def __init__(self) -> None:
        self.shown: dict[int, set[int]] = {}

    def apply(self, event: world_pb2.WorldEvent) -> None:
        kind = event.WhichOneof("event")
        for character_id in event.recipient_character_ids:
            shown = self.shown.setdefault(character_id, set())
            if kind == "spawn":
                shown.add(event.spawn.object_id)
            elif kind == "removed":
                shown.discard(event.removed.object_id)


async def test_a_gateway_that_does_not_read_loses_events_then_gets_its_views_rebuilt(
    world: WorldHarness,
) -> None:
    # The slow gateway stops reading; a small HTTP/2 window makes its backlog reach the
    # service's queue after a few events instead of megabytes.
    slow_channel = grpc.aio.insecure_channel(
        world.address, options=[("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", 1024)]
    )
    try:
        slow_stub: world_pb2_grpc.WorldAsyncStub = world_pb2_grpc.WorldStub(slow_channel)
        outbox: asyncio.Queue[world_pb2.WorldRequest] = asyncio.Queue()
        outbox.put_nowait(world_pb2.WorldRequest(hello=world_pb2.Hello(gateway_id="gw-slow")))
        for character_id, x in ((1, 0.0), (2, 400.0)):
            outbox.put_nowait(
                world_pb2.WorldRequest(
                    enter=world_pb2.EnterMap(
                        character_id=character_id, name="slow", map_id=1, position=pos(x, 0)
                    )
                )
            )
            outbox.put_nowait(
                world_pb2.WorldRequest(ready=world_pb2.Ready(character_id=character_id))
            )

        async def requests() -> AsyncIterator[world_pb2.WorldRequestBatch]:
            while True:
                yield world_pb2.WorldRequestBatch(requests=[await outbox.get()])

        slow_call = slow_stub.Connect(requests())
        model = ViewModel()
        said: list[str] = []

        async def read_one() -> None:
            batch = await asyncio.wait_for(slow_call.read(), 5.0)
            assert batch is not grpc.aio.EOF
            for event in batch.events:
                model.apply(event)
                if event.HasField("said"):
                    said.append(event.said.message)

        await read_one()  # welcome; not read again for a while
        fast = await world.connect("gw-fast")
        fast_ids = [await fast.enter(10 + n, 200.0 * n, 50) for n in range(3)]
        state = world.service.state
        rounds_dropping = 0
        for _ in range(5000):  # bounded; the drops start after a few dozen rounds
            if state.dropped_events:
                rounds_dropping += 1
                if rounds_dropping > 3:
                    break
            # Each round: a long chat line for everyone around, and the fast characters
            # stepping out of the slow ones' view and back (spawns, removals, stops).
            for n in range(3):
                fast.outbox.put_nowait(
                    world_pb2.WorldRequest(
                        chat=world_pb2.NormalChat(character_id=10 + n, message="x" * 1900)
                    )
                )
                await fast.ok(stop=world_pb2.StopMoving(character_id=10 + n, position=pos(0, 5000)))
                await fast.ok(
                    stop=world_pb2.StopMoving(character_id=10 + n, position=pos(200.0 * n, 50))
                )
        assert state.dropped_events > 0
        slow = state.gateways["gw-slow"]
        assert slow.resync and not slow.closed
        # More happens while the slow gateway is behind: one fast character leaves the view
        # for good, another walks off with the slow characters' last knowledge of it dropped.
        await fast.ok(stop=world_pb2.StopMoving(character_id=12, position=pos(0, 9000)))
        await fast.ok(stop=world_pb2.StopMoving(character_id=11, position=pos(300, 100)))
        # The slow gateway asks something: held while its queue is half full (paced).
        outbox.put_nowait(
            world_pb2.WorldRequest(
                request_id=77, chat=world_pb2.NormalChat(character_id=1, message="me again")
            )
        )
        # It reads again: what was queued, then the rebuilt views, then its own line.
        for _ in range(10000):  # bounded
            await read_one()
            if "me again" in said and not slow.resync and slow.pending == 0:
                break
        stats = await world.stub.GetStats(world_pb2.WorldStatsRequest())
        assert stats.dropped_events > 0 and stats.resynced_views > 0 and stats.paced_streams > 0
        assert stats.gateways == 2  # nobody was dropped
        # Every slow character shows exactly what it sees.
        for character_id in (1, 2):
            truth = {other.object_id for other in state.characters[character_id].seen}
            assert model.shown.get(character_id, set()) == truth
        seen_by_1 = {o.object_id for o in state.characters[1].seen}
        assert seen_by_1 == {fast_ids[0], fast_ids[1], state.characters[2].object_id}
        slow_call.cancel()
    finally:
        await slow_channel.close()


async def test_item_rpcs_drop_and_take_zuly_once_and_check_their_arguments(
    world: WorldHarness,
) -> None:
    gateway = await world.connect("gw-a")
    await gateway.enter(1, 0, 0)
    dropped = await world.stub.DropGroundItem(world_pb2.DropGroundItemRequest(
        character_id=1, item_type=31, count=50))
    assert dropped.reason == "" and dropped.object_id
    shown = await gateway.expect("ground_item")
    assert (shown.ground_item.object_id, shown.ground_item.count) == (dropped.object_id, 50)
    taken = await world.stub.TakeGroundItem(world_pb2.TakeGroundItemRequest(
        character_id=1, object_id=dropped.object_id))
    assert (taken.reason, taken.item_type, taken.count) == ("", 31, 50)
    again = await world.stub.TakeGroundItem(world_pb2.TakeGroundItemRequest(
        character_id=1, object_id=dropped.object_id))
    assert again.reason == "unknown_item"
    unknown = await world.stub.UseConsumable(world_pb2.UseConsumableRequest(
        character_id=1, item_type=10, item_number=1))
    assert unknown.reason == "unknown_item"  # a bare world has no content pack
    for request, code in (
        (world_pb2.TakeGroundItemRequest(character_id=0, object_id=1),
         grpc.StatusCode.INVALID_ARGUMENT),
        (world_pb2.TakeGroundItemRequest(character_id=77, object_id=1),
         grpc.StatusCode.NOT_FOUND),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await world.stub.TakeGroundItem(request)
        assert failed.value.code() is code


@pytest.mark.parametrize("combatant", [
    world_pb2.Combatant(level=256),
    world_pb2.Combatant(level=1, stats=[1] * 7),
    world_pb2.Combatant(level=1, stats=[0x8000]),
    world_pb2.Combatant(level=1, skills=[0] * 121),
    world_pb2.Combatant(level=1, skills=[0x10000]),
])
async def test_an_enter_with_stored_data_that_cannot_be_is_rejected_and_the_stream_stays(
    world: WorldHarness, combatant: world_pb2.Combatant
) -> None:
    gateway = await world.connect("gw-a")
    rejected = await gateway.rejected(enter=world_pb2.EnterMap(
        character_id=1, name="char1", map_id=1, position=pos(0, 0),
        look=world_pb2.PlayerLook(), combatant=combatant))
    assert rejected.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert await gateway.enter(1, 0, 0)  # the same stream goes on
