"""Parties in the world state (SetParty, FindObject): a kill by a party member shares its XP
with the members near it by the party's rule, and its drops with the party; members too far,
on another map or dead get nothing; the world forgets a party when its member leaves."""

from __future__ import annotations

import grpc
import pytest
from gateway_world.service import formulas
from gateway_world.service.combat import (
    PARTY_SHARE_RADIUS,
    RULE_EXP_PER_PLAYER,
    RULE_ITEM_IN_ORDER,
    party_shares,
)
from gateway_world.service.world_items import WorldItems
from hypothesis import given
from hypothesis import strategies as st

from gateway_core.api import CliAttack, ContentPack, ServiceError, SrvSetExp, load_pack

from .test_combat import PACK, PIT, SPAWN, Arena, fight_until_dead, of, packets, recipients

PARTY = 7


@pytest.fixture(scope="module")
def pack() -> ContentPack:
    return load_pack(PACK)


def test_shares_split_equally_or_by_level_and_add_up_to_the_pool() -> None:
    assert party_shares(40, [1, 1], per_player=True) == [20, 20]
    assert party_shares(41, [1, 1, 1], per_player=True) == [15, 13, 13]
    assert party_shares(40, [1, 3], per_player=False) == [10, 30]
    assert party_shares(0, [5, 5], per_player=False) == [0, 0]


@given(pool=st.integers(0, 10**9), levels=st.lists(st.integers(0, 250), min_size=1,
                                                   max_size=8), per_player=st.booleans())
def test_shares_never_create_or_lose_xp(pool: int, levels: list[int], per_player: bool) -> None:
    shares = party_shares(pool, levels, per_player=per_player)
    assert sum(shares) == pool and all(share >= 0 for share in shares)


def test_a_kill_shares_xp_with_the_members_in_range_only(pack: ContentPack) -> None:
    arena = Arena(pack)
    killer = arena.put(1)
    near = arena.put(2, SPAWN[0] - 100, SPAWN[1])
    far = arena.put(3, SPAWN[0] - PARTY_SHARE_RADIUS - 500, SPAWN[1])
    elsewhere = arena.put(4, map_id=PIT)
    stranger = arena.put(5, SPAWN[0] - 50, SPAWN[1])
    for member in (killer, near, far, elsewhere):
        arena.state.combat.set_party(member.character_id, PARTY, RULE_EXP_PER_PLAYER)
    dummy = arena.monster("dummy")
    arena.act(killer, CliAttack(target_id=dummy.object_id))
    batch = fight_until_dead(arena, dummy)
    exp = packets(batch, SrvSetExp)
    assert [e.exp for e in exp] == [20, 20]
    assert recipients(batch, SrvSetExp) == [{1}, {2}]
    assert near.fighter is not None and near.fighter.xp == 20
    for other in (far, elsewhere, stranger):
        assert other.fighter is not None and other.fighter.xp == 0
    assert {p.progress.object_id for p in of("progress", batch)} >= {
        killer.object_id, near.object_id}
    assert arena.state.combat.shared_kills == 1


def test_by_level_the_higher_member_gets_more(pack: ContentPack) -> None:
    arena = Arena(pack)
    killer = arena.put(1)
    helper = arena.put(2, SPAWN[0] - 100, SPAWN[1], level=3)
    for member in (killer, helper):
        arena.state.combat.set_party(member.character_id, PARTY, 0)
    dummy = arena.monster("dummy")
    arena.act(killer, CliAttack(target_id=dummy.object_id))
    fight_until_dead(arena, dummy)
    assert killer.fighter is not None and helper.fighter is not None
    assert (killer.fighter.xp, helper.fighter.xp) == (10, 30)


def test_a_shared_level_up_goes_the_usual_way(pack: ContentPack) -> None:
    arena = Arena(pack)
    need = formulas.xp_to_next(1)
    killer = arena.put(1)
    helper = arena.put(2, SPAWN[0] - 100, SPAWN[1], xp=need - 5)
    for member in (killer, helper):
        arena.state.combat.set_party(member.character_id, PARTY, RULE_EXP_PER_PLAYER)
    dummy = arena.monster("dummy")
    arena.act(killer, CliAttack(target_id=dummy.object_id))
    batch = fight_until_dead(arena, dummy)
    assert helper.fighter is not None and helper.fighter.level == 2
    assert [p.progress.level_up for p in of("progress", batch)
            if p.progress.object_id == helper.object_id][-1]


def test_drops_belong_to_the_party_or_to_the_members_in_turn(pack: ContentPack) -> None:
    arena = Arena(pack)
    killer = arena.put(1)
    helper = arena.put(2, SPAWN[0] - 100, SPAWN[1])
    for member in (killer, helper):
        arena.state.combat.set_party(member.character_id, PARTY, 0)
    dummy = arena.monster("dummy")
    arena.act(killer, CliAttack(target_id=dummy.object_id))
    fight_until_dead(arena, dummy)
    grounds = [e.ground for e in arena.state.instance(1, 30).items.values()
               if e.ground is not None]
    assert grounds and all(g.owner_party_id == PARTY for g in grounds)
    stranger = arena.put(3, SPAWN[0] - 50, SPAWN[1])
    now = arena.clock()
    combat = arena.state.combat
    assert all(combat.may_take(helper, g, now) and combat.may_take(killer, g, now)
               for g in grounds)
    assert not any(combat.may_take(stranger, g, now) for g in grounds)
    # The pick-up itself follows it: the helper takes the party's loot, the stranger cannot.
    loot = next(e for e in arena.state.instance(1, 30).items.values() if e.ground is not None)
    items = WorldItems(arena.state)
    assert items.take(3, loot.object_id).reason == "not_owner"
    assert items.take(2, loot.object_id).reason == ""
    # In turn: the dummy's two drops go one to each member.
    arena2 = Arena(pack)
    killer = arena2.put(1)
    helper = arena2.put(2, SPAWN[0] - 100, SPAWN[1])
    for member in (killer, helper):
        arena2.state.combat.set_party(member.character_id, PARTY, RULE_ITEM_IN_ORDER)
    dummy = arena2.monster("dummy")
    arena2.act(killer, CliAttack(target_id=dummy.object_id))
    fight_until_dead(arena2, dummy)
    owners = sorted(e.ground.owner_character_id for e in arena2.state.instance(1, 30)
                    .items.values() if e.ground is not None)
    assert owners == [1, 2]


def test_set_party_and_find_object_refuse_characters_not_on_a_map(pack: ContentPack) -> None:
    arena = Arena(pack)
    player = arena.put(1)
    other = arena.put(2, SPAWN[0] - 100, SPAWN[1])
    combat = arena.state.combat
    assert combat.find_player(1, other.object_id) == 2
    dummy = arena.monster("dummy")
    for asker, object_id in ((1, dummy.object_id), (1, 999), (99, other.object_id)):
        with pytest.raises(ServiceError) as caught:
            combat.find_player(asker, object_id)
        assert caught.value.code is grpc.StatusCode.NOT_FOUND
    with pytest.raises(ServiceError):
        combat.set_party(99, PARTY, 0)
    assert combat.set_party(1, PARTY, 0) == 1
    assert combat.set_party(2, PARTY, 0) == 2
    # Leaving the map forgets the party; 0 takes a member out.
    arena.state.leave(other)
    assert combat.parties[PARTY] == {player}
    assert combat.set_party(1, 0, 0) == 0
    assert PARTY not in combat.parties
