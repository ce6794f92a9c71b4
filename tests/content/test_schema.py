"""The entry models alone: client numbering, strict types, ranges, unknown fields."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import ValidationError

from gateway_core.content import (
    EQUIPMENT_TYPES,
    STACKABLE_TYPES,
    EquipSlot,
    ItemDef,
    ItemType,
    Job,
    MapDef,
    MonsterDef,
    NpcDef,
    SkillDef,
    StarterKitDef,
    equip_slot,
)

ITEM: dict[str, Any] = {"id": "practice_sword", "type": 8, "number": 1, "name": "Sword"}
MAP: dict[str, Any] = {
    "id": 1, "name": "Town",
    "bounds": {"min_x": 0.0, "min_y": 0.0, "max_x": 100.0, "max_y": 100.0},
    "spawn": {"x": 50.0, "y": 50.0}, "revive": [{"x": 1.0, "y": 1.0}],
}


def _error_at(model: Any, data: dict[str, Any]) -> list[tuple[Any, ...]]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return [error["loc"] for error in info.value.errors()]


def test_item_types_are_the_client_numbers() -> None:
    assert [int(t) for t in ItemType] == list(range(1, 15))
    assert (int(ItemType.WEAPON), int(ItemType.SUB_WEAPON), int(ItemType.CONSUMABLE)) == (8, 9,
                                                                                          10)
    assert EQUIPMENT_TYPES | STACKABLE_TYPES == set(ItemType)
    assert STACKABLE_TYPES == {ItemType.CONSUMABLE, ItemType.GEM, ItemType.MATERIAL,
                               ItemType.QUEST}


@pytest.mark.parametrize(("item_type", "slot"), [
    (1, EquipSlot.FACE), (2, EquipSlot.HEAD), (3, EquipSlot.BODY), (4, EquipSlot.HANDS),
    (5, EquipSlot.FEET), (6, EquipSlot.BACK), (7, EquipSlot.JEWELLERY), (8, EquipSlot.WEAPON),
    (9, EquipSlot.SUB_WEAPON), (14, EquipSlot.RIDING),
    (10, None), (11, None), (12, None), (13, None), (0, None), (15, None),
])
def test_equip_slot_follows_the_item_type(item_type: int, slot: EquipSlot | None) -> None:
    assert equip_slot(item_type) is slot


def test_jobs_are_the_client_numbers() -> None:
    assert (Job.VISITOR, Job.SOLDIER, Job.MUSE, Job.HAWKER, Job.DEALER) == (0, 111, 211, 311,
                                                                             411)
    assert {Job.KNIGHT, Job.CHAMPION, Job.MAGE, Job.CLERIC} == {121, 122, 221, 222}


def test_item_defaults_and_derived_slot() -> None:
    item = ItemDef.model_validate(ITEM)
    assert (item.stack, item.price, item.weight, item.stats, item.effect) == (1, 0, 0, None,
                                                                              None)
    assert item.item_type is ItemType.WEAPON and item.slot is EquipSlot.WEAPON


@pytest.mark.parametrize(("field", "value"), [
    ("type", True),        # a bool is not a number to a person writing a pack
    ("number", "1"),       # nor is a string
    ("price", 1.5),        # whole zuly only
    ("type", 15),
    ("number", 0),
    ("stack", 1000),
    ("id", "Practice Sword"),  # keys are lower_snake_case
])
def test_item_refuses_wrong_types_and_ranges(field: str, value: object) -> None:
    assert _error_at(ItemDef, {**ITEM, field: value}) == [(field,)]


def test_unknown_fields_are_refused_at_every_depth() -> None:
    assert _error_at(MapDef, {**MAP, "colour": "red"}) == [("colour",)]
    bounds = {**MAP["bounds"], "min_z": 0.0}
    assert _error_at(MapDef, {**MAP, "bounds": bounds}) == [("bounds", "min_z")]


def test_coordinates_take_ints_but_not_nan() -> None:
    assert MapDef.model_validate({**MAP, "spawn": {"x": 5, "y": 6}}).spawn.x == 5.0
    assert _error_at(MapDef, {**MAP, "spawn": {"x": math.nan, "y": 6.0}}) == [("spawn", "x")]


def test_map_needs_a_revive_point() -> None:
    assert _error_at(MapDef, {**MAP, "revive": []}) == [("revive",)]


def test_npc_direction_is_degrees_below_360() -> None:
    npc = {"id": "guide", "type": 1010, "name": "Guide", "map": 1,
           "position": {"x": 1.0, "y": 1.0}}
    assert NpcDef.model_validate(npc).direction == 0.0
    assert NpcDef.model_validate({**npc, "direction": 359.5}).direction == 359.5
    assert _error_at(NpcDef, {**npc, "direction": 360.0}) == [("direction",)]


def test_monster_ranges() -> None:
    monster = {"id": "jelly", "type": 1, "name": "Jelly", "level": 1, "hp": 10, "attack": 1,
               "defence": 1, "attack_range": 100.0, "attack_speed": 100, "move_speed": 200.0}
    assert MonsterDef.model_validate(monster).aggro_radius == 0.0
    for field, value in (("level", 256), ("hp", 0), ("attack_range", 0.0),
                         ("move_speed", -1.0), ("xp", -1), ("aggro_radius", -0.5)):
        assert _error_at(MonsterDef, {**monster, field: value}) == [(field,)]
    bad_drop = {**monster, "drops": [{"item": "goo", "chance": 1.5}]}
    assert _error_at(MonsterDef, bad_drop) == [("drops", 0, "chance")]


def test_jobs_must_be_client_jobs() -> None:
    skill = {"id": 1, "name": "Hit", "job": 111, "effect": {"kind": "damage", "power": 5}}
    assert SkillDef.model_validate(skill).job == Job.SOLDIER
    assert _error_at(SkillDef, {**skill, "job": 112}) == [("job",)]
    assert _error_at(StarterKitDef, {"job": 7}) == [("job",)]
    requirements = {**ITEM, "requirements": {"job": [111, 5]}}
    assert _error_at(ItemDef, requirements) == [("requirements", "job", 1)]


def test_skill_effect_kind_is_closed() -> None:
    skill = {"id": 1, "name": "Hit", "job": 0, "effect": {"kind": "explode", "power": 5}}
    assert _error_at(SkillDef, skill) == [("effect", "kind")]


def test_skill_next_and_points_and_kit_skills() -> None:
    skill = {"id": 1, "name": "Hit", "job": 0, "effect": {"kind": "damage", "power": 5}}
    plain = SkillDef.model_validate(skill)
    assert (plain.next, plain.points) == (None, 1)
    levelled = SkillDef.model_validate({**skill, "next": 2, "points": 0})
    assert (levelled.next, levelled.points) == (2, 0)
    for field, value in (("next", 0), ("next", 65536), ("points", -1), ("points", 256),
                         ("points", True), ("points", 1.0)):
        assert _error_at(SkillDef, {**skill, field: value}) == [(field,)], (field, value)
    assert StarterKitDef.model_validate({"job": 0}).skills == ()
    assert StarterKitDef.model_validate({"job": 0, "skills": [11, 12]}).skills == (11, 12)
    assert _error_at(StarterKitDef, {"job": 0, "skills": [11, 0]}) == [("skills", 1)]
    assert _error_at(StarterKitDef, {"job": 0, "skills": ["11"]}) == [("skills", 0)]


def test_entries_are_frozen() -> None:
    item = ItemDef.model_validate(ITEM)
    with pytest.raises(ValidationError):
        item.price = 5
