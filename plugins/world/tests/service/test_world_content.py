"""The world state with a content pack, driven synchronously with a hand-moved clock: NPCs and
monsters as entities of the map instances, their visibility, wandering and respawning,
channels, warp gates and the correction of client positions. (The gRPC contract of the same
requests is covered by test_world_servicer.py; the whole path by ../test_content.py.)"""

from __future__ import annotations

import math
import random
from pathlib import Path

import grpc
import pytest
from gateway_protos.v1 import world_pb2
from gateway_world.service.state import CONTENT_FIRST_ID, Refused, WorldState, WorldStream

from gateway_core.api import ContentPack, load_pack
from gateway_core.testing import ManualClock

CONTENT = Path(__file__).resolve().parent.parent / "content"
VIEW_RADIUS = 300.0
TOWN, FIELD = 20, 22
START = (520000.0, 520000.0)
#: The field's arrival point; the three jellies live within 100 units of (530100, 530000).
ARRIVAL = (530000.0, 530000.0)


@pytest.fixture(scope="module")
def pack() -> ContentPack:
    return load_pack(CONTENT)


def make_state(pack: ContentPack, clock: ManualClock, *, seed: int = 1) -> WorldState:
    return WorldState(
        view_radius=VIEW_RADIUS,
        queue_limit=10_000,
        clock=clock,
        content=pack,
        position_tolerance=250.0,
        wander_interval=2.0,
        rng=random.Random(seed),
    )


def pos(x: float, y: float) -> world_pb2.Position:
    return world_pb2.Position(x=x, y=y)


def events(state: WorldState, stream: WorldStream) -> list[world_pb2.WorldEvent]:
    """Everything queued for ``stream`` since the last call (the delivery tick by hand)."""
    state.flush()
    out: list[world_pb2.WorldEvent] = []
    while not stream.queue.empty():
        out.extend(stream.queue.get_nowait().events)
    return out


def of(kind: str, batch: list[world_pb2.WorldEvent]) -> list[world_pb2.WorldEvent]:
    return [e for e in batch if e.WhichOneof("event") == kind]


class Harness:
    def __init__(self, pack: ContentPack, *, seed: int = 1) -> None:
        self.clock = ManualClock(1000.0)
        self.state = make_state(pack, self.clock, seed=seed)
        self.stream = self.state.connect("gw")
        events(self.state, self.stream)  # the welcome

    def put(self, character_id: int, x: float, y: float, *, map_id: int = TOWN,
            channel_id: int = 1, requested: int = 0) -> int:
        entity = self.state.enter(
            self.stream, character_id=character_id, name=f"char{character_id}", map_id=map_id,
            position=pos(x, y), look=world_pb2.PlayerLook(run_speed=500),
            requested_object_id=requested, channel_id=channel_id,
        )
        self.state.make_ready(entity)
        return entity.object_id

    def tick(self, seconds: float) -> list[world_pb2.WorldEvent]:
        self.clock.advance(seconds)
        self.state.tick()
        return events(self.state, self.stream)

    def take(self) -> list[world_pb2.WorldEvent]:
        return events(self.state, self.stream)


# --- entities and visibility ----------------------------------------------------------------------


def test_npcs_and_monsters_share_the_instance_id_space_without_colliding(
    pack: ContentPack,
) -> None:
    world = Harness(pack)
    player = world.put(1, *START, requested=CONTENT_FIRST_ID)  # the guard's id: taken
    town = world.state.instance(1, TOWN)
    assert len(town.npcs) == 2 and not town.monsters
    assert set(town.npcs) == {CONTENT_FIRST_ID, CONTENT_FIRST_ID + 1}
    assert player not in town.npcs and player != 0
    assert set(town.objects) == {player, *town.npcs}


def test_a_ready_player_gets_the_npcs_in_view_and_loses_them_walking_away(
    pack: ContentPack,
) -> None:
    world = Harness(pack)
    world.put(1, *START)
    spawned = of("npc_spawn", world.take())
    assert [(e.npc_spawn.npc_type, e.npc_spawn.direction) for e in spawned] == [(1001, 90.0)]
    assert list(spawned[0].recipient_character_ids) == [1]
    guard = spawned[0].npc_spawn.object_id

    world.state.move(world.state.characters[1], 0, pos(START[0] - 1000, START[1]))
    batch = world.tick(3.0)  # 500 units/s: arrived
    assert [e.removed.object_id for e in of("removed", batch)] == [guard]


def test_monsters_are_shown_on_arrival_and_do_not_see_each_other(pack: ContentPack) -> None:
    world = Harness(pack)
    field = world.state.instance(1, FIELD)
    assert len(field.monsters) == 3
    assert all(not m.seen for m in field.monsters.values())
    world.put(1, *ARRIVAL, map_id=FIELD)
    shown = of("monster_spawn", world.take())
    assert {e.monster_spawn.object_id for e in shown} == set(field.monsters)
    assert {(e.monster_spawn.monster_type, e.monster_spawn.hp) for e in shown} == {(1, 45)}
    for monster in field.monsters.values():
        assert {other.character_id for other in monster.seen} == {1}


# --- wandering and respawning ---------------------------------------------------------------------


def test_a_standing_monster_wanders_within_its_spawn_circle_at_its_speed(
    pack: ContentPack,
) -> None:
    world = Harness(pack)
    world.put(1, *ARRIVAL, map_id=FIELD)
    world.take()
    walks = of("moved", world.tick(3.1))  # every pause is 1 to 3 s (wander_interval 2)
    assert {e.moved.object_id for e in walks} == set(world.state.instance(1, FIELD).monsters)
    for walk in walks:
        moved = walk.moved
        assert moved.speed == 400.0 and list(walk.recipient_character_ids) == [1]
        assert math.hypot(moved.destination.x - 530100, moved.destination.y - 530000) <= 100


def test_wandering_is_reproducible_with_a_seed(pack: ContentPack) -> None:
    def walks(seed: int) -> list[tuple[int, float, float]]:
        world = Harness(pack, seed=seed)
        world.put(1, *ARRIVAL, map_id=FIELD)
        world.take()
        return [(e.moved.object_id, e.moved.destination.x, e.moved.destination.y)
                for e in of("moved", world.tick(3.1))]

    assert walks(5) == walks(5)
    assert walks(5) != walks(6)


def test_a_removed_monster_respawns_after_its_respawn_time_with_a_new_id(
    pack: ContentPack,
) -> None:
    world = Harness(pack)
    world.put(1, *ARRIVAL, map_id=FIELD)
    world.take()
    field = world.state.instance(1, FIELD)
    victim = next(iter(field.monsters))
    world.state.remove_monster(1, FIELD, victim)
    assert [e.removed.object_id for e in of("removed", world.take())] == [victim]
    assert victim not in field.objects and len(field.monsters) == 2

    assert not of("monster_spawn", world.tick(0.2))  # respawn_seconds = 0.3
    back = of("monster_spawn", world.tick(0.2))
    assert len(back) == 1 and back[0].monster_spawn.object_id not in (victim, 0)
    stats = world.state.stats()
    assert (stats.monsters, stats.removed_monsters, stats.respawned_monsters) == (3, 1, 1)

    with pytest.raises(Refused) as refused:
        world.state.remove_monster(1, FIELD, victim)
    assert refused.value.code is grpc.StatusCode.NOT_FOUND


# --- channels -------------------------------------------------------------------------------------


def test_each_channel_has_its_own_instance_of_a_map(pack: ContentPack) -> None:
    world = Harness(pack)
    world.put(1, *START, channel_id=1)
    world.take()
    world.put(2, *START, channel_id=2)
    batch = world.take()
    assert not of("spawn", batch)  # character 1 is on channel 1
    assert len(of("npc_spawn", batch)) == 1  # channel 2's own guard
    world.put(3, *START, channel_id=1)
    assert {e.spawn.character_id for e in of("spawn", world.take())} == {1, 3}
    assert {(c.channel_id, c.characters) for c in world.state.stats().channels} == {(1, 2), (2, 1)}
    assert world.state.find("CHAR2").channel_id == 2


# --- gates ----------------------------------------------------------------------------------------


def test_a_gate_takes_a_player_in_its_radius_to_its_destination(pack: ContentPack) -> None:
    world = Harness(pack)
    old_id = world.put(1, *START)
    world.put(2, START[0] - 50, START[1])
    world.take()
    alice = world.state.characters[1]
    world.state.use_gate(alice, 1)
    assert (alice.map_id, alice.x, alice.y, alice.ready) == (FIELD, *ARRIVAL, False)
    assert [e.removed.object_id for e in of("removed", world.take())] == [old_id]
    world.state.make_ready(alice)
    assert len(of("monster_spawn", world.take())) == 3


@pytest.mark.parametrize(
    ("gate_id", "reason"),
    [(42, "unknown_gate"), (2, "gate_on_other_map"), (3, "gate_out_of_range")],
)
def test_a_gate_out_of_reach_is_refused_and_nothing_changes(
    pack: ContentPack, gate_id: int, reason: str
) -> None:
    world = Harness(pack)
    world.put(1, *START)
    alice = world.state.characters[1]
    with pytest.raises(Refused) as refused:
        world.state.use_gate(alice, gate_id)
    assert refused.value.reason == reason
    assert (alice.map_id, alice.x, alice.y, alice.ready) == (TOWN, *START, True)


# --- positions ------------------------------------------------------------------------------------


def test_a_stop_the_speed_cannot_explain_is_corrected(pack: ContentPack) -> None:
    world = Harness(pack)
    world.put(1, *START)
    world.take()
    alice = world.state.characters[1]
    assert world.state.stop(alice, pos(START[0] + 1000, START[1]))
    placed = of("placed", world.take())
    assert [(p.placed.corrected, p.placed.position.x) for p in placed] == [(True, START[0])]
    assert (alice.x, alice.y) == START

    # Walking at 500 units/s for one second: 500 units along is where the service has her.
    world.state.move(alice, 0, pos(START[0] + 2000, START[1]))
    world.clock.advance(1.0)
    assert not world.state.stop(alice, pos(START[0] + 480, START[1]))
    assert (alice.x, alice.y) == (START[0] + 480, START[1])
    assert world.state.stats().corrected_positions == 1


def test_a_lost_position_is_sent_again_when_the_queue_has_room(pack: ContentPack) -> None:
    world = Harness(pack)
    world.put(1, *START)
    world.take()
    alice = world.state.characters[1]
    stream = world.stream
    # The gateway's queue is full: the service's answer to her move (where she will stand)
    # is dropped, and her view marked for a rebuild.
    stream.pending = world.state.queue_limit
    world.state.move(alice, 0, pos(START[0] + 200, START[1]))
    assert stream.resync == {1: {alice.object_id}}
    stream.pending = 0
    world.state.resync(stream)
    placed = of("placed", world.take())
    assert [(p.placed.object_id, p.placed.position.x, p.placed.corrected) for p in placed] == [
        (alice.object_id, START[0] + 200, False)
    ]


def test_points_outside_the_map_bounds_are_refused(pack: ContentPack) -> None:
    world = Harness(pack)
    world.put(1, *START)
    alice = world.state.characters[1]
    for refused_call in (
        lambda: world.state.move(alice, 0, pos(600000, START[1])),
        lambda: world.state.stop(alice, pos(START[0], 400000)),
        lambda: world.state.teleport(alice, FIELD, pos(*START)),  # not a point of the field
    ):
        with pytest.raises(Refused) as refused:
            refused_call()
        assert refused.value.reason == "out_of_bounds"
    assert (alice.map_id, alice.x, alice.y) == (TOWN, *START)
