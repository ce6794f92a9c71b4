"""Loading packs from disk: the two layouts, and every kind of breakage reported with the file,
the entry and the field it concerns."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gateway_core.content import (
    ContentError,
    ContentPack,
    Problem,
    default_pack_path,
    load_content,
    load_default_pack,
    load_pack,
)

WritePack = Callable[[dict[str, str]], Path]

HEADER = 'name = "test"\nversion = "1"\n'
TOWN = """
[[map]]
id = 1
name = "Town"
bounds = { min_x = 0.0, min_y = 0.0, max_x = 1000.0, max_y = 1000.0 }
spawn = { x = 500.0, y = 500.0 }
revive = [{ x = 400.0, y = 400.0 }]
"""
FIELD = """
[[map]]
id = 2
name = "Field"
bounds = { min_x = 0.0, min_y = 0.0, max_x = 2000.0, max_y = 2000.0 }
spawn = { x = 100.0, y = 100.0 }
revive = [{ x = 100.0, y = 100.0 }]
"""
ITEMS = """
[[item]]
id = "sword"
type = 8
number = 1
name = "Sword"
price = 100

[[item]]
id = "potion"
type = 10
number = 1
name = "Potion"
stack = 99
price = 10
effect = { kind = "heal_hp", amount = 50 }
"""
MONSTER = """
[[monster]]
id = "jelly"
type = 1
name = "Jelly"
level = 1
hp = 30
attack = 5
defence = 1
attack_range = 100.0
attack_speed = 100
move_speed = 200.0
drops = [{ item = "potion", chance = 0.1 }, { zuly = { min = 1, max = 5 }, chance = 0.5 }]
"""
SPAWN = """
[[spawn]]
id = "jellies"
monster = "jelly"
map = 2
centre = { x = 1000.0, y = 1000.0 }
radius = 300.0
count = 5
respawn_seconds = 10.0
"""
REST = """
[[gate]]
id = 1
map = 1
position = { x = 900.0, y = 500.0 }
radius = 50.0
destination = { map = 2, x = 150.0, y = 150.0 }

[[npc]]
id = "merchant"
type = 1001
name = "Merchant"
map = 1
position = { x = 510.0, y = 510.0 }
shop = "general"

[[shop]]
id = "general"
name = "General"
items = [{ item = "potion" }, { item = "sword", price = 90 }]

[[skill]]
id = 1
name = "Hit"
job = 0
effect = { kind = "damage", power = 5 }

[[starter_kit]]
job = 0
zuly = 100
items = [{ item = "sword", equip = true }, { item = "potion", count = 5 }]
"""
SINGLE = HEADER + TOWN + FIELD + ITEMS + MONSTER + SPAWN + REST


def _single(write_pack: WritePack, text: str) -> Path:
    return write_pack({"pack.toml": text}) / "pack.toml"


def _problems(path: Path) -> list[Problem]:
    with pytest.raises(ContentError) as info:
        load_pack(path)
    return list(info.value.problems)


def _messages(path: Path) -> list[str]:
    return [str(problem) for problem in _problems(path)]


def _one(path: Path) -> str:
    messages = _messages(path)
    assert len(messages) == 1, messages
    return messages[0]


# --- layouts ----------------------------------------------------------------------------------


def test_single_file_pack_loads_with_every_section(write_pack: WritePack) -> None:
    pack = load_pack(_single(write_pack, SINGLE))
    assert isinstance(pack, ContentPack) and (pack.name, pack.version) == ("test", "1")
    assert list(pack.maps) == [1, 2] and list(pack.gates) == [1]
    assert pack.npcs["merchant"].shop == "general"
    assert pack.item_by_client(10, 1) is pack.items["potion"]
    assert pack.item_by_client(10, 2) is None
    assert pack.spawns_on(2) == [pack.spawns["jellies"]] and pack.npcs_on(2) == []
    assert pack.gates_on(1) == [pack.gates[1]] and pack.skills_for(0) == [pack.skills[1]]
    assert pack.starter_kits[0].zuly == 100 and pack.starter_kits[0].skills == ()


def test_directory_pack_reads_its_includes_and_names_them_in_problems(
        write_pack: WritePack) -> None:
    files = {"pack.toml": HEADER + 'include = ["world/maps.toml", "things.toml"]\n',
             "world/maps.toml": TOWN + FIELD + REST.replace('job = 0\nzuly', 'job = 0\nzulu'),
             "things.toml": ITEMS + MONSTER + SPAWN}
    directory = write_pack(files)
    assert _one(directory) == ("world/maps.toml: starter_kit[0] (job=0): zulu: unknown field")
    files["world/maps.toml"] = TOWN + FIELD + REST
    assert len(load_pack(write_pack(files)).items) == 2
    assert len(load_pack(directory / "pack.toml").maps) == 2  # the root file itself works too


def test_pack_tables_are_read_only(write_pack: WritePack) -> None:
    pack = load_pack(_single(write_pack, SINGLE))
    with pytest.raises(TypeError):
        pack.maps[3] = pack.maps[1]  # type: ignore[index]


# --- breakage, one kind at a time -------------------------------------------------------------


def test_missing_field(write_pack: WritePack) -> None:
    text = SINGLE.replace('name = "Field"\n', "")
    assert _one(_single(write_pack, text)) == (
        "pack.toml: map[1] (id=2): name: required field missing")


def test_unknown_reference(write_pack: WritePack) -> None:
    text = SINGLE.replace('shop = "general"', 'shop = "generl"')
    assert _one(_single(write_pack, text)) == (
        "pack.toml: npc[0] (id=merchant): shop: unknown shop 'generl'")


@pytest.mark.parametrize(("old", "new", "where"), [
    ("destination = { map = 2,", "destination = { map = 7,",
     "gate[0] (id=1): destination.map: unknown map 7"),
    ('monster = "jelly"', 'monster = "jely"', "spawn[0] (id=jellies): monster: unknown monster"),
    ('{ item = "potion", chance = 0.1 }', '{ item = "potoin", chance = 0.1 }',
     "monster[0] (id=jelly): drops[0].item: unknown item 'potoin'"),
    ('{ item = "sword", price = 90 }', '{ item = "swrd", price = 90 }',
     "shop[0] (id=general): items[1].item: unknown item 'swrd'"),
    ('{ item = "potion", count = 5 }', '{ item = "potions", count = 5 }',
     "starter_kit[0] (job=0): items[1].item: unknown item 'potions'"),
])
def test_every_reference_is_checked(write_pack: WritePack, old: str, new: str,
                                    where: str) -> None:
    assert old in SINGLE
    assert _one(_single(write_pack, SINGLE.replace(old, new))).startswith(f"pack.toml: {where}")


def test_duplicate_id_names_the_repeat_and_the_first(write_pack: WritePack) -> None:
    text = SINGLE + FIELD.replace('"Field"', '"Field again"')
    assert _one(_single(write_pack, text)) == (
        "pack.toml: map[2] (id=2): id: duplicate map id 2 (first at pack.toml: map[1] (id=2))")


def test_duplicate_client_item_number(write_pack: WritePack) -> None:
    text = SINGLE + '[[item]]\nid = "axe"\ntype = 8\nnumber = 1\nname = "Axe"\n'
    assert _one(_single(write_pack, text)).startswith(
        "pack.toml: item[2] (id=axe): number: duplicate item number (8, 1)")


def test_out_of_range_value(write_pack: WritePack) -> None:
    text = SINGLE.replace("count = 5\nrespawn", "count = 501\nrespawn")
    assert _one(_single(write_pack, text)) == (
        "pack.toml: spawn[0] (id=jellies): count: Input should be less than or equal to 500 "
        "(got 501)")


def test_unknown_field(write_pack: WritePack) -> None:
    text = SINGLE.replace("price = 100\n", "price = 100\ncolour = 3\n")
    assert _one(_single(write_pack, text)) == "pack.toml: item[0] (id=sword): colour: unknown field"


def test_toml_syntax_error_names_file_and_line(write_pack: WritePack) -> None:
    files = {"pack.toml": HEADER + 'include = ["maps.toml"]\n',
             "maps.toml": "[[map]]\nid = 1\nname = = 2\n"}
    problem = _problems(write_pack(files))[0]
    assert (problem.file, problem.line) == ("maps.toml", 3)
    assert str(problem).startswith("maps.toml:3: TOML syntax error")


def test_point_outside_bounds(write_pack: WritePack) -> None:
    text = SINGLE.replace("position = { x = 510.0, y = 510.0 }",
                          "position = { x = 510.0, y = 1510.0 }")
    assert _one(_single(write_pack, text)) == (
        "pack.toml: npc[0] (id=merchant): position: (510, 1510) lies outside the bounds of "
        "map 1 (x 0..1000, y 0..1000)")


@pytest.mark.parametrize(("old", "new", "where"), [
    ("spawn = { x = 500.0, y = 500.0 }", "spawn = { x = -1.0, y = 500.0 }",
     "map[0] (id=1): spawn: (-1, 500)"),
    ("revive = [{ x = 400.0, y = 400.0 }]", "revive = [{ x = 400.0, y = 400.0 }, {x=1,y=1e6}]",
     "map[0] (id=1): revive[1]: (1, 1e+06)"),
    ("position = { x = 900.0, y = 500.0 }", "position = { x = 9000.0, y = 500.0 }",
     "gate[0] (id=1): position: (9000, 500)"),
    ("x = 150.0, y = 150.0 }", "x = 150.0, y = 5150.0 }",
     "gate[0] (id=1): destination: (150, 5150) lies outside the bounds of map 2"),
    ("centre = { x = 1000.0, y = 1000.0 }", "centre = { x = 1000.0, y = 3000.0 }",
     "spawn[0] (id=jellies): centre: (1000, 3000)"),
])
def test_every_placement_is_checked(write_pack: WritePack, old: str, new: str,
                                    where: str) -> None:
    assert old in SINGLE
    assert _one(_single(write_pack, SINGLE.replace(old, new))).startswith(f"pack.toml: {where}")


def test_spawn_circle_must_stay_inside_the_map(write_pack: WritePack) -> None:
    text = SINGLE.replace("radius = 300.0", "radius = 1200.0")
    assert _one(_single(write_pack, text)).startswith(
        "pack.toml: spawn[0] (id=jellies): radius: the circle of radius 1200 around "
        "(1000, 1000) reaches outside map 2")


def test_bounds_need_min_below_max(write_pack: WritePack) -> None:
    text = SINGLE.replace("max_x = 1000.0", "max_x = -5.0")
    messages = _messages(_single(write_pack, text))
    assert messages[0] == ("pack.toml: map[0] (id=1): bounds.min_x: must be less than "
                           "bounds.max_x (0 >= -5)")
    assert len(messages) == 1  # points are not also blamed for bounds that make no sense


@pytest.mark.parametrize(("old", "new", "where"), [
    ('name = "Sword"\n', 'name = "Sword"\nstack = 5\n', "item[0] (id=sword): stack: equipment"),
    ('name = "Sword"\n', 'name = "Sword"\neffect = { kind = "heal_hp", amount = 1 }\n',
     "item[0] (id=sword): effect: only consumables"),
    ('effect = { kind = "heal_hp", amount = 50 }',
     'effect = { kind = "heal_hp", amount = 50 }\nstats = { attack = 1 }',
     "item[1] (id=potion): stats: only equipment"),
    ('{ item = "potion", count = 5 }', '{ item = "potion", count = 500 }',
     "starter_kit[0] (job=0): items[1].count: 'potion' stacks up to 99"),
    ('{ item = "potion", count = 5 }', '{ item = "potion", count = 5, equip = true }',
     "starter_kit[0] (job=0): items[1].equip: 'potion' is not equipment"),
    ('{ item = "potion", count = 5 }', '{ item = "sword", equip = true }',
     "starter_kit[0] (job=0): items[1].equip: the weapon slot already holds 'sword'"),
    ('{ item = "potion", chance = 0.1 }', '{ item = "potion", chance = 0.1, min = 3, max = 2 }',
     "monster[0] (id=jelly): drops[0].min: more than max"),
    ('{ item = "potion", chance = 0.1 }', '{ item = "potion", zuly = {min=1,max=2}, chance = 1 }',
     "monster[0] (id=jelly): drops[0]: a drop has either"),
    ("zuly = { min = 1, max = 5 }", "zuly = { min = 6, max = 5 }",
     "monster[0] (id=jelly): drops[1].zuly.min: more than zuly.max"),
    ('{ item = "sword", price = 90 }', '{ item = "potion", price = 90 }',
     "shop[0] (id=general): items[1].item: 'potion' is listed twice"),
    ("destination = { map = 2, x = 150.0, y = 150.0 }",
     "destination = { map = 1, x = 890.0, y = 500.0 }",
     "gate[0] (id=1): destination: lies within gate 1"),
    ('{ kind = "damage", power = 5 }', '{ kind = "buff", power = 5 }',
     "skill[0] (id=1): effect: a buff needs a stat"),
])
def test_rules_across_fields(write_pack: WritePack, old: str, new: str, where: str) -> None:
    assert old in SINGLE
    assert _one(_single(write_pack, SINGLE.replace(old, new))).startswith(f"pack.toml: {where}")


# --- skills: starter skills and next levels ------------------------------------------------------

KIT = "job = 0\nzuly = 100\n"
SKILL_1 = 'job = 0\neffect = { kind = "damage", power = 5 }\n'


def _skill(number: int, job: int = 0, level: int = 1, extra: str = "") -> str:
    return (f'\n[[skill]]\nid = {number}\nname = "Skill {number}"\njob = {job}\nlevel = {level}\n'
            f'effect = {{ kind = "damage", power = 5 }}\n{extra}')


def test_kit_skills_and_next_levels_load(write_pack: WritePack) -> None:
    text = (SINGLE.replace(KIT, KIT + "skills = [1, 2]\n")
            .replace(SKILL_1, SKILL_1 + "next = 2\n")
            + _skill(2, level=5, extra="points = 3\n")
            + _skill(3, job=111) + "\n[[starter_kit]]\njob = 111\nskills = [3, 1]\n")
    pack = load_pack(_single(write_pack, text))
    assert pack.starter_kits[0].skills == (1, 2) and pack.starter_kits[111].skills == (3, 1)
    assert (pack.skills[1].next, pack.skills[1].points) == (2, 1)
    assert (pack.skills[2].next, pack.skills[2].points) == (None, 3)


@pytest.mark.parametrize(("kit", "more", "where"), [
    ("skills = [2]", "", "starter_kit[0] (job=0): skills[0]: unknown skill 2"),
    ("skills = [1, 2]", _skill(2, job=111),
     "starter_kit[0] (job=0): skills[1]: skill 2 ('Skill 2') is of job 111: a kit has skills "
     "of its job (0) or visitor skills (job 0)"),
    ("skills = [1, 1]", "", "starter_kit[0] (job=0): skills[1]: skill 1 is listed twice"),
])
def test_kit_skills_are_checked(write_pack: WritePack, kit: str, more: str, where: str) -> None:
    text = SINGLE.replace(KIT, f"{KIT}{kit}\n") + more
    assert _one(_single(write_pack, text)) == f"pack.toml: {where}"


def test_a_kit_of_a_job_refuses_another_jobs_skill(write_pack: WritePack) -> None:
    text = (SINGLE + _skill(2, job=111) + _skill(3, job=211)
            + "\n[[starter_kit]]\njob = 111\nskills = [1, 2, 3]\n")
    assert _one(_single(write_pack, text)) == (
        "pack.toml: starter_kit[1] (job=111): skills[2]: skill 3 ('Skill 3') is of job 211: a "
        "kit has skills of its job (111) or visitor skills (job 0)")


def test_a_kit_skill_refused_by_its_model_is_not_also_unknown(write_pack: WritePack) -> None:
    text = SINGLE.replace(KIT, KIT + "skills = [2]\n") + _skill(2, level=0)
    assert _one(_single(write_pack, text)).startswith(
        "pack.toml: skill[1] (id=2): level: Input should be greater than or equal to 1")


@pytest.mark.parametrize(("next_", "more", "where"), [
    ("9", "", "next: unknown skill 9"),
    ("2", _skill(2, job=111),
     "next: skill 2 ('Skill 2') is of job 111, not of this skill's job 0"),
    ("2", _skill(2, level=1, extra="next = 1\n"),
     "next: the next levels loop back to this skill (1 -> 2 -> 1)"),
    ("1", "", "next: the next levels loop back to this skill (1 -> 1)"),
])
def test_next_level_is_checked(write_pack: WritePack, next_: str, more: str, where: str) -> None:
    text = SINGLE.replace(SKILL_1, f"{SKILL_1}next = {next_}\n") + more
    assert _one(_single(write_pack, text)) == f"pack.toml: skill[0] (id=1): {where}"


def test_next_level_needs_at_least_the_same_level(write_pack: WritePack) -> None:
    text = SINGLE + _skill(2, level=10, extra="next = 3\n") + _skill(3, level=9)
    assert _one(_single(write_pack, text)) == (
        "pack.toml: skill[1] (id=2): next: skill 3 ('Skill 3') needs level 9, below this "
        "skill's level 10")


# --- structure --------------------------------------------------------------------------------


def test_all_problems_are_collected_across_files(write_pack: WritePack) -> None:
    files = {"pack.toml": 'version = "1"\ninclude = ["a.toml", "b.toml", "c.toml"]\n',
             "a.toml": TOWN.replace("id = 1", "id = 0") + "[[mapz]]\n",
             "b.toml": ITEMS.replace("number = 1\nname = \"Sword\"", "number = 1"),
             "c.toml": "oops"}
    messages = _messages(write_pack(files))
    assert "pack.toml: name: required field missing" in messages
    assert "a.toml: map[0] (id=0): id: Input should be greater than or equal to 1 (got 0)" \
        in messages
    assert any(m.startswith("a.toml: mapz: unknown section (did you mean 'map'?)")
               for m in messages)
    assert "b.toml: item[0] (id=sword): name: required field missing" in messages
    assert any(m.startswith("c.toml:1: TOML syntax error") for m in messages)
    assert len(messages) == 5


def test_a_refused_entry_is_not_also_an_unknown_reference(write_pack: WritePack) -> None:
    # The broken map is reported once; the NPC, gate and spawn on it do not add "unknown map".
    text = SINGLE.replace('name = "Town"\n', "")
    assert _one(_single(write_pack, text)) == (
        "pack.toml: map[0] (id=1): name: required field missing")


@pytest.mark.parametrize(("include", "message"), [
    ('["missing.toml"]', "pack.toml: include[0]: 'missing.toml': no such file"),
    ('["../outside.toml"]', "pack.toml: include[0]: '../outside.toml' lies outside the pack's "
                            "directory"),
    ('["pack.toml"]', "pack.toml: include[0]: 'pack.toml' is included twice"),
    ('"maps.toml"', "pack.toml: include: must be an array of file names"),
    ("[3]", "pack.toml: include[0]: must be a file name"),
])
def test_bad_includes(write_pack: WritePack, include: str, message: str) -> None:
    directory = write_pack({"pack.toml": f"{HEADER}include = {include}\n{SINGLE[len(HEADER):]}"})
    (directory.parent / "outside.toml").write_text("")
    assert _one(directory) == message


def test_includes_do_not_nest_and_only_the_root_has_a_header(write_pack: WritePack) -> None:
    files = {"pack.toml": HEADER + 'include = ["more.toml"]\n' + SINGLE[len(HEADER):],
             "more.toml": 'name = "other"\ninclude = ["x.toml"]\n'}
    assert _messages(write_pack(files)) == [
        "more.toml: name: only the root file (pack.toml) may set it",
        "more.toml: include: only the root file (pack.toml) may set it",
    ]


def test_a_section_must_be_an_array_of_tables(write_pack: WritePack) -> None:
    text = HEADER + '[map]\nid = 1\n'
    assert _one(_single(write_pack, text)) == (
        "pack.toml: map: must be an array of tables ([[map]])")


def test_an_empty_pack_is_valid(write_pack: WritePack) -> None:
    pack = load_pack(_single(write_pack, HEADER))
    assert len(pack.maps) == 0 and len(pack.items) == 0


def test_missing_path_and_directory_without_pack(tmp_path: Path) -> None:
    assert _one(tmp_path / "nope") == f"{tmp_path / 'nope'}: no such file or directory"
    assert _one(tmp_path) == f"{tmp_path}: not a content pack: no pack.toml in it"


def test_content_error_message_lists_every_problem(write_pack: WritePack) -> None:
    text = SINGLE.replace('name = "Town"\n', "").replace("hp = 30", "hp = 0")
    with pytest.raises(ContentError) as info:
        load_pack(_single(write_pack, text))
    assert str(info.value).splitlines() == [str(p) for p in info.value.problems]
    assert len(info.value.problems) == 2


def test_a_content_setting_names_a_pack_or_leaves_the_shipped_one() -> None:
    assert load_content("") is load_default_pack()
    assert load_content(None) is load_default_pack()
    assert load_content(str(default_pack_path())).name == load_default_pack().name
    with pytest.raises(ContentError):
        load_content("/nonexistent/pack.toml")
