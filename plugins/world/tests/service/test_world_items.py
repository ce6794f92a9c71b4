"""Items in the world state (synchronous, hand-moved clock): loot taken once, put back when the
inventory had no room, owner windows and reach, drops, the NPCs' shops, equipment that changes
the derived stats and is shown, and consumables with their cooldown and heal over time."""

from __future__ import annotations

import pytest
from gateway_protos.v1 import common_pb2, world_pb2
from gateway_world.service.combat import CORPSE_SECONDS, OWNER_WINDOW_SECONDS, ZULY_ITEM_TYPE
from gateway_world.service.world_items import PICKUP_RANGE, WorldItems

from gateway_core.api import (
    CliAttack,
    ContentPack,
    SrvEquipItem,
    SrvEquipItemRide,
    SrvEquipProjectile,
    SrvSetHpAndMp,
    SrvUseItem,
)

from .test_combat import SPAWN, Arena, fight_until_dead, of, pack, packets

__all__ = ["pack"]


def killed_dummy(arena: Arena, character_id: int = 1) -> list[world_pb2.GroundItem]:
    """Character ``character_id`` kills the dummy; its loot on the ground."""
    player = arena.state.characters[character_id]
    dummy = arena.monster("dummy")
    arena.act(player, CliAttack(target_id=dummy.object_id))
    batch = fight_until_dead(arena, dummy)
    return [e.ground_item for e in of("ground_item", batch)]


def test_loot_is_taken_once_and_put_back_unchanged(pack: ContentPack) -> None:
    arena = Arena(pack)
    arena.put(1)
    items = WorldItems(arena.state)
    loot = killed_dummy(arena)
    zuly = next(g for g in loot if g.item_type == ZULY_ITEM_TYPE)
    taken = items.take(1, zuly.object_id)
    assert (taken.reason, taken.item_type, taken.count) == ("", ZULY_ITEM_TYPE, 10)
    assert items.take(1, zuly.object_id).reason == "unknown_item"
    assert zuly.object_id in {e.removed.object_id for e in of("removed", arena.take())}
    back = items.put_back(taken.token)
    assert back.reason == "" and back.object_id == zuly.object_id
    assert items.put_back(taken.token).reason == "unknown_token"
    assert items.take(1, zuly.object_id).count == 10


def test_someone_else_s_loot_waits_for_the_owner_window_and_reach_counts(
    pack: ContentPack,
) -> None:
    arena = Arena(pack)
    arena.put(1)
    arena.put(2, SPAWN[0] + 50, SPAWN[1])
    far = arena.put(3, SPAWN[0] + PICKUP_RANGE + 400, SPAWN[1])
    items = WorldItems(arena.state)
    loot = killed_dummy(arena)
    assert items.take(2, loot[0].object_id).reason == "not_owner"
    assert items.take(3, loot[0].object_id).reason in ("not_owner", "too_far")
    arena.tick(OWNER_WINDOW_SECONDS + CORPSE_SECONDS, step=1.0)
    assert items.take(3, loot[0].object_id).reason == "too_far"
    assert items.take(2, loot[0].object_id).reason == ""
    del far


def test_a_drop_lies_by_the_character_with_the_dropper_as_owner(pack: ContentPack) -> None:
    arena = Arena(pack)
    player = arena.put(1)
    arena.put(2, SPAWN[0] + 100, SPAWN[1])
    arena.take()
    items = WorldItems(arena.state)
    dropped = items.drop(1, 10, 1, 3)
    [shown] = [e for e in of("ground_item", arena.take())
               if e.ground_item.object_id == dropped.object_id]
    assert set(shown.recipient_character_ids) == {1, 2}
    assert (shown.ground_item.item_type, shown.ground_item.count) == (10, 3)
    assert shown.ground_item.owner_object_id == player.object_id
    assert items.drop(1, 10, 999, 1).reason == "unknown_item"
    assert items.drop(1, ZULY_ITEM_TYPE, 0, 0).reason == "bad_count"


def test_near_npc_says_the_distance_and_the_shop(pack: ContentPack) -> None:
    arena = Arena(pack)
    arena.put(1)
    items = WorldItems(arena.state)
    npc = next(iter(arena.state.instance(1, 30).npcs))
    reply = items.near_npc(1, npc)
    assert (round(reply.distance), reply.shop, reply.npc) == (200, "arena_shop", "quartermaster")
    assert items.near_npc(1, 0x7777).reason == "unknown_npc"


def test_equipment_changes_the_derived_stats_and_is_shown_around(pack: ContentPack) -> None:
    arena = Arena(pack)
    player = arena.put(1)
    arena.put(2, SPAWN[0] + 100, SPAWN[1])
    arena.take()
    fighter = player.fighter
    assert fighter is not None
    defence, max_hp = fighter.derived.defence, fighter.max_hp
    WorldItems(arena.state).set_equipment(world_pb2.SetEquipmentRequest(
        character_id=1, equipment=[0, 5, 0, 0, 0, 0, 0, 0], slot=3, item=5,
        equipped=[common_pb2.ItemRef(item_type=3, item_number=5)]))
    assert (fighter.derived.defence, fighter.max_hp) == (defence + 10, max_hp + 30)
    batch = arena.take()
    [shown] = packets(batch, SrvEquipItem)
    assert (shown.id, shown.slot, int(shown.item)) == (player.object_id, 3, 5)
    assert list(player.look.equipment) == [0, 5, 0, 0, 0, 0, 0, 0]


def test_ammunition_and_riding_parts_are_shown_with_their_own_packets(
        pack: ContentPack) -> None:
    arena = Arena(pack)
    player = arena.put(1)
    arena.put(2, SPAWN[0] + 100, SPAWN[1])
    arena.take()
    items = WorldItems(arena.state)
    items.set_equipment(world_pb2.SetEquipmentRequest(
        character_id=1, equipment=[0] * 8, slot=0, item=12 | 901 << 5,
        change=world_pb2.EQUIP_CHANGE_PROJECTILE))
    [arrows] = packets(arena.take(), SrvEquipProjectile)
    assert arrows.char_id == player.object_id
    assert (arrows.projectile.type, arrows.projectile.id) == (12, 901)
    items.set_equipment(world_pb2.SetEquipmentRequest(
        character_id=1, equipment=[0] * 8, slot=0, item=5, change=world_pb2.EQUIP_CHANGE_RIDE))
    batch = arena.take()
    [part] = packets(batch, SrvEquipItemRide)
    assert (part.char_id, int(part.slot), int(part.item)) == (player.object_id, 0, 5)
    assert part.move_speed == int(player.speed) > 0
    assert not packets(batch, SrvEquipItem)


def test_a_potion_heals_over_time_and_waits_for_its_cooldown(pack: ContentPack) -> None:
    arena = Arena(pack)
    player = arena.put(1, hp=10)
    fighter = player.fighter
    assert fighter is not None
    fighter.last_combat = arena.clock()  # no regeneration meanwhile
    items = WorldItems(arena.state)
    use = world_pb2.UseConsumableRequest(character_id=1, item_type=10, item_number=1, slot=42)
    assert items.use(world_pb2.UseConsumableRequest(
        character_id=1, item_type=10, item_number=1, check_only=True)).reason == ""
    assert items.use(use).reason == ""
    assert [(p.char_id, p.item_id, p.index) for p in packets(arena.take(), SrvUseItem)] == [
        (player.object_id, 1, 42)]
    assert items.use(use).reason == "cooldown"
    batch = arena.tick(5.5, step=0.5)
    assert fighter.hp == min(fighter.max_hp, 60)
    assert 3 <= len(packets(batch, SrvSetHpAndMp)) <= 7  # about once a second
    assert items.use(world_pb2.UseConsumableRequest(
        character_id=1, item_type=3, item_number=5)).reason == "not_consumable"
    with pytest.raises(Exception, match="not on any map"):
        items.use(world_pb2.UseConsumableRequest(character_id=9, item_type=10, item_number=1))


def test_a_return_scroll_takes_the_character_to_the_nearest_revive_point(
        pack: ContentPack) -> None:
    arena = Arena(pack)
    player = arena.put(1, 538000.0, 539000.0)
    arena.take()
    items = WorldItems(arena.state)
    scroll = world_pb2.UseConsumableRequest(character_id=1, item_type=10, item_number=9,
                                            slot=43)
    assert items.use(scroll).reason == ""
    assert (player.x, player.y) == (540000.0, 540000.0)  # the nearer of the two
    assert not player.ready  # the map reloads, as after a gate
    [moved] = of("teleported", arena.take())
    assert (moved.teleported.map_id, moved.teleported.object_id) == (30, player.object_id)
    assert list(moved.recipient_character_ids) == [1]
    assert items.use(scroll).reason == "cooldown"
