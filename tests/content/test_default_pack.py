"""The pack shipped with the project loads and holds what the reference services rely on."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

from gateway_core.content import (
    PACK_FILE,
    EquipSlot,
    ItemType,
    Job,
    default_pack_path,
    load_default_pack,
    load_pack,
    summary,
)

ROOT = Path(__file__).resolve().parents[2]
TOWN, FIELD = 1, 22
FIRST_JOBS = (Job.VISITOR, Job.SOLDIER, Job.MUSE, Job.HAWKER, Job.DEALER)


def test_default_pack_loads_and_is_cached() -> None:
    pack = load_default_pack()
    assert pack is load_default_pack()
    assert pack.name and pack.version
    assert load_pack(default_pack_path()).maps.keys() == pack.maps.keys()


def test_every_file_of_the_default_pack_is_included_and_packaged() -> None:
    directory = default_pack_path()
    include = tomllib.loads((directory / PACK_FILE).read_text())["include"]
    assert sorted(include) == sorted(p.name for p in directory.glob("*.toml") if p.name !=
                                     PACK_FILE)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "content/default/*.toml" in pyproject["tool"]["setuptools"]["package-data"][
        "gateway_core"]
    assert any(dep.startswith("pydantic") for dep in pyproject["project"]["dependencies"])


def test_a_town_and_a_field_joined_both_ways() -> None:
    pack = load_default_pack()
    assert set(pack.maps) == {TOWN, FIELD}
    links = {(gate.map, gate.destination.map) for gate in pack.gates.values()}
    assert {(TOWN, FIELD), (FIELD, TOWN)} <= links
    assert not pack.maps[TOWN].pvp


def test_the_town_has_people_and_a_shop() -> None:
    pack = load_default_pack()
    town_npcs = pack.npcs_on(TOWN)
    assert len(town_npcs) >= 4
    shops = [npc.shop for npc in town_npcs if npc.shop is not None]
    assert shops and all(shop in pack.shops for shop in shops)


def test_the_field_has_three_kinds_of_monster_spawned() -> None:
    pack = load_default_pack()
    spawned = {spawn.monster for spawn in pack.spawns_on(FIELD)}
    assert len(spawned) >= 3 and spawned <= set(pack.monsters)
    assert not pack.spawns_on(TOWN)
    assert any(monster.aggro_radius > 0 for monster in pack.monsters.values())
    assert all(monster.drops for monster in pack.monsters.values())


def test_items_cover_potions_and_every_equip_slot() -> None:
    pack = load_default_pack()
    assert len(pack.items) >= 12
    effects = {item.effect.kind for item in pack.items.values() if item.effect is not None}
    assert {"heal_hp", "heal_mp"} <= effects
    slots = {item.slot for item in pack.items.values()}
    assert {EquipSlot.HEAD, EquipSlot.BODY, EquipSlot.HANDS, EquipSlot.FEET, EquipSlot.BACK,
            EquipSlot.JEWELLERY, EquipSlot.WEAPON, EquipSlot.SUB_WEAPON} <= slots
    potion = pack.items["hp_potion_small"]
    assert pack.item_by_client(ItemType.CONSUMABLE, potion.number) is potion


def test_shops_sell_at_a_price() -> None:
    pack = load_default_pack()
    for shop in pack.shops.values():
        for line in shop.items:
            price = pack.items[line.item].price if line.price is None else line.price
            assert price > 0, (shop.id, line.item)


def test_every_first_job_has_skills_and_a_starter_kit() -> None:
    pack = load_default_pack()
    for job in FIRST_JOBS:
        assert len(pack.skills_for(job)) >= 2, job
        kit = pack.starter_kits[job]
        assert any(line.equip and pack.items[line.item].slot is EquipSlot.WEAPON
                   for line in kit.items), job


def test_starter_kits_teach_skills_of_their_job_and_visitors_steady_strike() -> None:
    pack = load_default_pack()
    assert pack.starter_kits[Job.VISITOR].skills[0] == 11
    assert pack.skills[11].name == "Steady Strike"
    for job in FIRST_JOBS:
        skills = pack.starter_kits[job].skills
        assert 1 <= len(skills) <= 2, job
        assert all(pack.skills[number].job in (job, Job.VISITOR) for number in skills), job


def test_some_skills_have_a_next_level_of_their_job() -> None:
    pack = load_default_pack()
    levelled = [skill for skill in pack.skills.values() if skill.next is not None]
    assert len(levelled) >= 2
    for skill in levelled:
        following = pack.skills[skill.next]  # type: ignore[index]
        assert following.job == skill.job and following.level >= skill.level
        assert following.points >= 1
    assert pack.skills[pack.skills[11].next].name == "Steady Strike II"  # type: ignore[index]


def test_positions_are_in_map_units_near_the_town_centre() -> None:
    # Same unit as the packets and CHARACTER_START_X: a town centre is near 520000.
    town = load_default_pack().maps[TOWN]
    assert math.dist((town.spawn.x, town.spawn.y), (520000.0, 520000.0)) < 20000


def test_summary_counts_sections_and_names_maps() -> None:
    text = summary(load_default_pack())
    assert "2 maps" in text and "3 monsters" in text and "5 starter kits" in text
    for map_def in load_default_pack().maps.values():
        assert map_def.name in text
