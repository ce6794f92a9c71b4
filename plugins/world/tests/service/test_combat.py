"""Combat in the world state, driven synchronously with a hand-moved clock and a seeded random
source: attacks chosen by the client and landed by the service, monsters that fight back and
give up, XP and levels, stat points, death and revive, skills, walk/run, regeneration and the
loot on the ground. (The whole path through a gateway is ../test_combat_e2e.py.)"""

from __future__ import annotations

import dataclasses
import math
import random
from pathlib import Path
from typing import Any

import pytest
from gateway_protos.v1 import world_pb2
from gateway_world.service import formulas
from gateway_world.service.combat import (
    CORPSE_SECONDS,
    DAMAGE_DEAD,
    DAMAGE_HIT,
    OWNER_WINDOW_SECONDS,
    ZULY_ITEM_TYPE,
)
from gateway_world.service.state import Entity, Refused, WorldState, WorldStream
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway_core.api import (
    CliAttack,
    CliHpReq,
    CliSkillCastSelf,
    CliSkillCastTarget,
    CliSkillLevelReq,
    CliStatAddReq,
    CliToggleMove,
    ContentPack,
    Packet,
    SrvAttack,
    SrvDamage,
    SrvHpReply,
    SrvLevelup,
    SrvSetExp,
    SrvSetHpAndMp,
    SrvSkillCancel,
    SrvSkillDamage,
    SrvSkillEffect,
    SrvSkillLevelReply,
    SrvStatAddReply,
    SrvToggleMove,
    load_pack,
)
from gateway_core.testing import ManualClock

PACK = Path(__file__).resolve().parent.parent / "content" / "combat.toml"
ARENA, PIT = 30, 31
SPAWN = (520000.0, 520000.0)
STATS = [15, 15, 15, 15, 15, 15]


@pytest.fixture(scope="module")
def pack() -> ContentPack:
    return load_pack(PACK)


def pos(x: float, y: float) -> world_pb2.Position:
    return world_pb2.Position(x=x, y=y)


class Arena:
    """One world state with one gateway stream; the clock and the delivery tick by hand."""

    def __init__(self, pack: ContentPack, *, seed: int = 7, revive_in_place: bool = False) -> None:
        self.clock = ManualClock(1000.0)
        self.state = WorldState(
            view_radius=5000.0, queue_limit=100_000, clock=self.clock, content=pack,
            wander_interval=1000.0, rng=random.Random(seed), revive_in_place=revive_in_place,
        )
        self.stream: WorldStream = self.state.connect("gw")
        self.take()

    def put(self, character_id: int, x: float = SPAWN[0], y: float = SPAWN[1], *,
            map_id: int = ARENA, **combatant: Any) -> Entity:
        values: dict[str, Any] = {"level": 1, "hp": 1000, "mp": 1000, "stats": STATS}
        values.update(combatant)
        entity = self.state.enter(
            self.stream, character_id=character_id, name=f"char{character_id}", map_id=map_id,
            position=pos(x, y), look=world_pb2.PlayerLook(), combatant=world_pb2.Combatant(
                **values),
        )
        self.state.make_ready(entity)
        return entity

    def take(self) -> list[world_pb2.WorldEvent]:
        self.state.flush()
        out: list[world_pb2.WorldEvent] = []
        while not self.stream.queue.empty():
            out.extend(self.stream.queue.get_nowait().events)
        return out

    def tick(self, seconds: float, *, step: float = 0.1) -> list[world_pb2.WorldEvent]:
        out: list[world_pb2.WorldEvent] = []
        for _ in range(max(1, round(seconds / step))):
            self.clock.advance(step)
            self.state.tick()
            out.extend(self.take())
        return out

    def act(self, entity: Entity, packet: Packet) -> None:
        self.state.act(entity, packet.NAME, packet.encode_payload())

    def monster(self, kind: str, map_id: int = ARENA) -> Entity:
        instance = self.state.instance(1, map_id)
        return next(m for m in instance.monsters.values()
                    if m.fighter is not None and m.fighter.monster is not None
                    and m.fighter.monster.id == kind)


def tough(entity: Entity, hp: int = 10_000) -> None:
    """Give ``entity`` many HP (a fight that lasts)."""
    fighter = entity.fighter
    assert fighter is not None
    fighter.derived = dataclasses.replace(fighter.derived, max_hp=hp)
    fighter.hp = hp


def packets(batch: list[world_pb2.WorldEvent], cls: type[Any]) -> list[Any]:
    """The game-action packets of one type in a batch, decoded."""
    return [cls.decode_payload(e.action.payload).packet for e in batch
            if e.WhichOneof("event") == "action" and e.action.packet_name == cls.NAME]


def recipients(batch: list[world_pb2.WorldEvent], cls: type[Any]) -> list[set[int]]:
    return [set(e.recipient_character_ids) for e in batch
            if e.WhichOneof("event") == "action" and e.action.packet_name == cls.NAME]


def of(kind: str, batch: list[world_pb2.WorldEvent]) -> list[world_pb2.WorldEvent]:
    return [e for e in batch if e.WhichOneof("event") == kind]


def refused(reason: str, call: Any, *args: Any) -> Refused:
    with pytest.raises(Refused) as caught:
        call(*args)
    assert caught.value.reason == reason
    return caught.value


def fight_until_dead(arena: Arena, target: Entity, seconds: float = 60.0) -> (
        list[world_pb2.WorldEvent]):
    out: list[world_pb2.WorldEvent] = []
    for _ in range(round(seconds / 0.5)):
        out.extend(arena.tick(0.5))
        if target.fighter is not None and target.fighter.dead:
            return out
    raise AssertionError("the target did not die")


# --- attacks --------------------------------------------------------------------------------------


def test_an_attack_is_shown_to_those_around_and_hits_land_at_the_attack_speed(
    pack: ContentPack,
) -> None:
    arena = Arena(pack)
    player = arena.put(1)
    watcher = arena.put(2, SPAWN[0] - 200, SPAWN[1])
    dummy = arena.monster("dummy")
    tough(dummy)
    arena.take()
    arena.act(player, CliAttack(target_id=dummy.object_id))
    shown = arena.take()
    assert [(p.attacker_id, p.defender_id) for p in packets(shown, SrvAttack)] == [
        (player.object_id, dummy.object_id)]
    assert recipients(shown, SrvAttack) == [{1, 2}]

    interval = formulas.attack_interval(player.fighter.derived.attack_speed)  # type: ignore
    batch = arena.tick(interval * 4 - 0.05)
    hits = [p for p in packets(batch, SrvDamage) if p.attacker_id == player.object_id]
    assert len(hits) == 4  # the first at once, then one per interval
    assert all(set(r) == {1, 2} for r in recipients(batch, SrvDamage))
    dealt = sum(p.damage for p in hits)
    assert dummy.fighter.hp == 10_000 - dealt  # type: ignore[union-attr]
    del watcher


def test_sending_the_attack_again_gains_nothing_and_is_refused(pack: ContentPack) -> None:
    arena = Arena(pack)
    player = arena.put(1)
    dummy = arena.monster("dummy")
    tough(dummy)
    arena.act(player, CliAttack(target_id=dummy.object_id))
    def own(batch: list[world_pb2.WorldEvent]) -> list[Any]:
        return [p for p in packets(batch, SrvDamage) if p.attacker_id == player.object_id]

    first = len(own(arena.tick(0.1)))
    for _ in range(20):
        refused("already_attacking", arena.act, player, CliAttack(target_id=dummy.object_id))
    assert first == 1 and not own(arena.tick(0.5))


def test_a_target_out_of_reach_is_walked_to_before_the_first_hit(pack: ContentPack) -> None:
    arena = Arena(pack)
    player = arena.put(1, SPAWN[0] - 1500, SPAWN[1])
    dummy = arena.monster("dummy")
    arena.act(player, CliAttack(target_id=dummy.object_id))
    assert player.moving and not packets(arena.tick(0.5), SrvDamage)
    batch = arena.tick(4.0)  # 1600 units at 425 units/s
    assert packets(batch, SrvDamage)
    assert math.hypot(player.x - dummy.x, player.y - dummy.y) <= 250


def test_attacks_on_what_cannot_be_attacked_are_refused_and_change_nothing(
    pack: ContentPack,
) -> None:
    arena = Arena(pack)
    player = arena.put(1)
    other = arena.put(2, SPAWN[0] + 50, SPAWN[1])
    far = arena.put(3, SPAWN[0] + 40000, SPAWN[1] + 30000)  # out of view
    refused("unknown_target", arena.act, player, CliAttack(target_id=far.object_id))
    refused("unknown_target", arena.act, player, CliAttack(target_id=0xFFF0))
    refused("not_attackable", arena.act, player, CliAttack(target_id=player.object_id))
    refused("no_pvp", arena.act, player, CliAttack(target_id=other.object_id))
    assert player.fighter.target is None  # type: ignore[union-attr]
    refused("bad_payload", arena.state.act, player, "PAKCS_ATTACK", b"\x01")
    refused("untrusted_damage", arena.state.act, player, "PAKCS_DAMAGE", b"\x01\x00\x02\x00")


def test_pvp_is_allowed_on_a_pvp_map(pack: ContentPack) -> None:
    arena = Arena(pack)
    player = arena.put(1, map_id=PIT)
    other = arena.put(2, SPAWN[0] + 50, SPAWN[1], map_id=PIT)
    arena.act(player, CliAttack(target_id=other.object_id))
    hits = packets(arena.tick(0.2), SrvDamage)
    assert hits and hits[0].defender_id == other.object_id
    assert other.fighter.hp < 1000 or hits[0].damage == 0  # type: ignore[union-attr]


# --- kills, XP, loot ------------------------------------------------------------------------------


def test_a_kill_shows_the_death_gives_xp_drops_loot_and_the_monster_comes_back(
    pack: ContentPack,
) -> None:
    arena = Arena(pack)
    player = arena.put(1)
    dummy = arena.monster("dummy")
    arena.act(player, CliAttack(target_id=dummy.object_id))
    batch = fight_until_dead(arena, dummy)
    final = packets(batch, SrvDamage)[-1]
    assert final.action & DAMAGE_DEAD and not final.action & DAMAGE_HIT
    exp = packets(batch, SrvSetExp)
    assert [(e.exp, e.source_id) for e in exp] == [(40, dummy.object_id)]
    progress = of("progress", batch)[-1].progress
    assert progress.combatant.xp == 40 and not progress.level_up

    loot = of("ground_item", batch)
    assert sorted((g.ground_item.item_type, g.ground_item.count) for g in loot) == [
        (12, 2), (ZULY_ITEM_TYPE, 10)]
    assert all(g.ground_item.owner_object_id == player.object_id for g in loot)
    assert arena.state.stats().ground_items == 2

    removed = of("removed", arena.tick(CORPSE_SECONDS + 0.2))
    assert dummy.object_id in {e.removed.object_id for e in removed}
    back = of("monster_spawn", arena.tick(10.5))
    assert len(back) == 1 and back[0].monster_spawn.hp == 30
    stats = arena.state.stats()
    assert (stats.kills, stats.deaths) == (1, 0) and stats.hits >= 1 and stats.combat_ticks > 0


def test_loot_is_owned_for_a_while_then_anyone_s_and_then_gone(pack: ContentPack) -> None:
    arena = Arena(pack)
    player = arena.put(1)
    dummy = arena.monster("dummy")
    arena.act(player, CliAttack(target_id=dummy.object_id))
    fight_until_dead(arena, dummy)
    arena.tick(OWNER_WINDOW_SECONDS)
    late = arena.put(2, SPAWN[0] + 10, SPAWN[1])
    shown = of("ground_item", arena.take())
    assert shown and all(g.ground_item.owner_object_id == 0 for g in shown)
    assert all(g.ground_item.seconds_left <= 120 - OWNER_WINDOW_SECONDS for g in shown)
    gone = of("removed", arena.tick(120.0, step=1.0))
    assert {g.ground_item.object_id for g in shown} <= {e.removed.object_id for e in gone}
    assert arena.state.stats().ground_items == 0
    del late


def test_enough_xp_levels_up_shown_to_those_around_with_points_to_spend(
    pack: ContentPack,
) -> None:
    arena = Arena(pack)
    need = formulas.xp_to_next(1)
    player = arena.put(1, xp=need - 10)
    arena.put(2, SPAWN[0] - 100, SPAWN[1])
    dummy = arena.monster("dummy")
    arena.act(player, CliAttack(target_id=dummy.object_id))
    batch = fight_until_dead(arena, dummy)
    gain = formulas.gain_xp(1, need - 10, 40)
    [levelup] = packets(batch, SrvLevelup)
    assert (levelup.level, levelup.exp, levelup.stat_points) == (2, 30, gain.stat_points)
    assert recipients(batch, SrvLevelup) == [{1, 2}]
    fighter = player.fighter
    assert fighter is not None and fighter.hp == fighter.max_hp
    assert [p.progress.level_up for p in of("progress", batch) if p.progress.object_id ==
            player.object_id][-1]

    cost = formulas.stat_point_cost(15)
    arena.act(player, CliStatAddReq(stat=0))
    [reply] = packets(arena.take(), SrvStatAddReply)
    assert (reply.stat, reply.value) == (0, 16)
    assert fighter.stat_points == gain.stat_points - cost and fighter.stats.strength == 16


def test_a_stat_point_the_character_does_not_have_is_refused(pack: ContentPack) -> None:
    arena = Arena(pack)
    player = arena.put(1, stat_points=0)
    refused("no_stat_points", arena.act, player, CliStatAddReq(stat=2))
    assert player.fighter.stats.intelligence == 15  # type: ignore[union-attr]
    assert not packets(arena.take(), SrvStatAddReply)


# --- monsters fight back, death and revive --------------------------------------------------------


def test_an_aggressive_monster_attacks_kills_and_a_revive_brings_the_player_back(
    pack: ContentPack,
) -> None:
    arena = Arena(pack)
    biter = arena.monster("biter")
    player = arena.put(1, 522500.0, SPAWN[1], hp=50, xp=100)
    batch = arena.tick(1.0)
    assert [p.attacker_id for p in packets(batch, SrvAttack)] == [biter.object_id]
    batch += fight_until_dead(arena, player, 30.0)
    fighter = player.fighter
    assert fighter is not None and fighter.dead and fighter.hp == 0
    assert packets(batch, SrvDamage)[-1].action & DAMAGE_DEAD
    lost = formulas.death_penalty(1, 100)
    assert (fighter.xp, fighter.penalty_xp) == (100 - lost, lost)
    assert biter.fighter.target is None  # type: ignore[union-attr]
    assert arena.state.stats().deaths == 1

    refused("dead", arena.state.move, player, 0, pos(SPAWN[0], SPAWN[1]))
    refused("dead", arena.act, player, CliAttack(target_id=biter.object_id))
    arena.state.combat.revive(player, 1)  # the nearest revive point
    assert not fighter.dead and fighter.hp == formulas.revive_hp(fighter.max_hp)
    assert (player.x, player.y, player.ready) == (519000.0, 520000.0, False)
    refused("alive", arena.state.combat.revive, player, 1)


def test_revive_types_pick_the_spawn_point_or_where_it_fell_when_allowed(
    pack: ContentPack,
) -> None:
    for allowed, kind, expected in ((False, 3, SPAWN), (False, 4, (519000.0, 520000.0)),
                                    (True, 4, (521000.0, 520000.0))):
        arena = Arena(pack, revive_in_place=allowed)
        player = arena.put(1, 521000.0, 520000.0)
        player.fighter.dead = True  # type: ignore[union-attr]
        arena.state.combat.revive(player, kind)
        assert (player.x, player.y) == expected


def test_a_monster_chased_away_from_home_gives_up_and_walks_back_healed(
    pack: ContentPack,
) -> None:
    arena = Arena(pack)
    biter = arena.monster("biter")
    player = arena.put(1, 522500.0, SPAWN[1], hp=1000, level=60, stats=[300] * 6)
    arena.tick(0.6)
    assert biter.fighter.target is player  # type: ignore[union-attr]
    biter.fighter.hp -= 100  # type: ignore[union-attr]
    # The player runs far west; the biter follows until it is past its leash.
    arena.state.teleport(player, ARENA, pos(505000.0, 520000.0))
    arena.state.make_ready(player)
    arena.tick(1.0)
    assert biter.fighter.target is None  # type: ignore[union-attr]
    assert biter.fighter.hp == biter.fighter.max_hp  # type: ignore[union-attr]


# --- skills ---------------------------------------------------------------------------------------


def test_a_skill_without_enough_mp_is_refused_and_with_it_applied(pack: ContentPack) -> None:
    arena = Arena(pack)
    player = arena.put(1, mp=5, skills=[11, 12, 13])
    dummy = arena.monster("dummy")
    refused("no_mp", arena.act, player, CliSkillCastTarget(target=dummy.object_id, slot=0))
    assert dummy.fighter.hp == 30 and player.fighter.mp == 5  # type: ignore[union-attr]

    player.fighter.mp = 50  # type: ignore[union-attr]
    arena.act(player, CliSkillCastTarget(target=dummy.object_id, slot=0))
    batch = arena.take()
    [hit] = packets(batch, SrvSkillDamage)
    assert (hit.source, hit.target, hit.id) == (player.object_id, dummy.object_id, 11)
    assert player.fighter.mp == 40  # type: ignore[union-attr]
    assert packets(batch, SrvSetHpAndMp)[-1].mp == 40
    refused("cooldown", arena.act, player, CliSkillCastTarget(target=dummy.object_id, slot=0))


def test_an_empty_skill_slot_gets_the_protocol_s_cancel(pack: ContentPack) -> None:
    arena = Arena(pack)
    player = arena.put(1)
    refused("unknown_skill", arena.act, player, CliSkillCastSelf(slot=5))
    assert packets(arena.take(), SrvSkillCancel)[0].result == 0  # INVALID_SKILL


def test_heal_and_buff_skills_and_the_buff_wearing_off(pack: ContentPack) -> None:
    arena = Arena(pack)
    player = arena.put(1, hp=20, skills=[11, 12, 13])
    fighter = player.fighter
    assert fighter is not None
    arena.act(player, CliSkillCastSelf(slot=1))
    assert fighter.hp == 20 + 30 + 15 // 4
    defence = fighter.derived.defence
    arena.act(player, CliSkillCastSelf(slot=2))
    assert fighter.derived.defence == defence + 50
    assert [p.id for p in packets(arena.take(), SrvSkillEffect)] == [12, 13]
    arena.tick(10.5, step=0.5)
    assert fighter.derived.defence == defence and not fighter.buffs


def test_skill_points_learn_a_skill_and_raise_it_to_its_next_level(pack: ContentPack) -> None:
    arena = Arena(pack)
    player = arena.put(1, level=1, skill_points=0, skills=[11])
    fighter = player.fighter
    assert fighter is not None
    refused("no_skill_points", arena.act, player, CliSkillLevelReq(slot=1, next_index=12))
    assert packets(arena.take(), SrvSkillLevelReply)[0].result == 2  # NO_POINTS
    fighter.skill_points = 3
    arena.act(player, CliSkillLevelReq(slot=1, next_index=12))
    assert fighter.skills[:2] == [11, 12] and fighter.skill_points == 2
    refused("skill_order", arena.act, player, CliSkillLevelReq(slot=2, next_index=11))
    refused("unknown_skill", arena.act, player, CliSkillLevelReq(slot=2, next_index=999))
    refused("skill_level", arena.act, player, CliSkillLevelReq(slot=3, next_index=300))
    refused("skill_level", arena.act, player, CliSkillLevelReq(slot=0, next_index=300))
    fighter.level = 2
    arena.act(player, CliSkillLevelReq(slot=0, next_index=300))  # Jab's next level
    assert fighter.skills[:2] == [300, 12] and fighter.skill_points == 0
    reply = packets(arena.take(), SrvSkillLevelReply)[-1]
    assert (reply.result, reply.slot, reply.id, reply.points) == (0, 0, 300, 0)


# --- walk/run, HP, regeneration -------------------------------------------------------------------


def test_toggle_move_switches_the_speed_and_is_shown_around(pack: ContentPack) -> None:
    arena = Arena(pack)
    player = arena.put(1)
    arena.put(2, SPAWN[0] + 100, SPAWN[1])
    arena.take()
    arena.act(player, CliToggleMove(type=2))
    [shown] = packets(batch := arena.take(), SrvToggleMove)
    assert (shown.type, shown.run_speed, player.speed) == (0, 200, 200.0)
    assert recipients(batch, SrvToggleMove) == [{1, 2}]
    arena.act(player, CliToggleMove(type=2))
    assert player.speed == 425.0
    refused("no_cart", arena.act, player, CliToggleMove(type=9))


def test_hp_request_answers_with_the_target_s_hp(pack: ContentPack) -> None:
    arena = Arena(pack)
    player = arena.put(1)
    dummy = arena.monster("dummy")
    arena.act(player, CliHpReq(target_id=dummy.object_id))
    assert [(p.id, p.hp) for p in packets(arena.take(), SrvHpReply)] == [(dummy.object_id, 30)]


def test_regeneration_waits_for_the_end_of_combat_and_stops_at_the_maximum(
    pack: ContentPack,
) -> None:
    arena = Arena(pack)
    player = arena.put(1, hp=10)
    fighter = player.fighter
    assert fighter is not None
    fighter.last_combat = arena.clock()
    arena.tick(formulas.COMBAT_COOLDOWN - 1)
    assert fighter.hp == 10
    arena.tick(120.0, step=1.0)
    assert fighter.hp == fighter.max_hp and fighter.mp == fighter.max_mp
    assert player not in arena.state.combat.recovering


def test_progress_reaches_the_gateway_once_per_delivery_tick(pack: ContentPack) -> None:
    arena = Arena(pack)
    player = arena.put(1, stat_points=100)
    arena.take()
    for _ in range(3):
        arena.act(player, CliStatAddReq(stat=1))
    [progress] = of("progress", arena.take())
    assert list(progress.recipient_character_ids) == [1]
    assert progress.progress.combatant.stats[1] == 18


# --- properties -----------------------------------------------------------------------------------

ACTIONS = st.lists(st.tuples(st.sampled_from(["attack", "skill", "stat", "tick", "move"]),
                             st.integers(0, 3)), max_size=25)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=ACTIONS, seed=st.integers(0, 1000))
def test_random_fights_keep_hp_within_bounds_and_xp_never_falls_within_a_level(
    pack: ContentPack, actions: list[tuple[str, int]], seed: int
) -> None:
    arena = Arena(pack, seed=seed)
    player = arena.put(1, 522000.0, SPAWN[1], hp=200, skills=[11, 12, 13], stat_points=5)
    fighter = player.fighter
    assert fighter is not None
    last = (fighter.level, fighter.xp)
    for action, value in actions:
        try:
            if action == "attack":
                targets = [e for e in player.seen if e.fighter is not None]
                if targets:
                    arena.act(player, CliAttack(target_id=targets[value % len(targets)].object_id))
            elif action == "skill":
                arena.act(player, CliSkillCastSelf(slot=value % 3))
            elif action == "stat":
                arena.act(player, CliStatAddReq(stat=value))
            elif action == "move":
                arena.state.move(player, 0, pos(522000.0 + 300 * value, SPAWN[1]))
        except Refused:
            pass
        arena.tick(0.5 * (value + 1), step=0.25)
        for entity in [player, *arena.state.instance(1, ARENA).monsters.values()]:
            f = entity.fighter
            assert f is not None and 0 <= f.hp <= f.max_hp
        if fighter.level == last[0] and not fighter.dead:
            assert fighter.xp >= last[1] or fighter.penalty_xp > 0
        last = (fighter.level, fighter.xp)
        if fighter.dead:
            arena.state.combat.revive(player, 1)
            arena.state.make_ready(player)


def test_a_gm_adjustment_sets_the_level_or_heals_and_reports_progress_at_once(
    pack: ContentPack,
) -> None:
    arena = Arena(pack)
    player = arena.put(1, hp=10, xp=50)
    fighter = player.fighter
    assert fighter is not None
    arena.take()
    arena.state.combat.adjust(player, level=20)
    batch = arena.take()
    [levelup] = packets(batch, SrvLevelup)
    assert (levelup.level, levelup.exp) == (20, 0)
    assert (fighter.level, fighter.xp, fighter.hp) == (20, 0, fighter.max_hp)
    [progress] = of("progress", batch)
    assert progress.progress.level_up and progress.progress.combatant.level == 20
    fighter.hp = 1
    arena.state.combat.adjust(player, heal=True)
    assert packets(arena.take(), SrvSetHpAndMp)[-1].hp == fighter.max_hp
    fighter.dead = True
    with pytest.raises(Refused, match="dead"):
        arena.state.combat.adjust(player, heal=True)


def test_stored_vitals_the_world_cuts_reach_the_gateway_at_the_enter(pack: ContentPack) -> None:
    arena = Arena(pack)
    player = arena.put(1, hp=100_000, mp=7)
    fighter = player.fighter
    assert fighter is not None and fighter.hp == fighter.max_hp
    [progress] = of("progress", arena.take())
    assert progress.progress.combatant.hp == fighter.max_hp
    assert progress.progress.combatant.mp == 7
    arena.put(2, hp=10, mp=10)  # within the maximum: nothing to tell
    assert not of("progress", arena.take())
