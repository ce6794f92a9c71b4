"""Reading a content pack from TOML and checking it as a whole.

Strategy: three passes, each collecting :class:`Problem` objects instead of stopping at the
first. (1) Every file is parsed and every entry validated alone against its model
(:mod:`gateway_core.content.schema`). (2) Ids are indexed per section; duplicates are refused.
(3) Every rule that spans values or entries is checked (references, points inside maps, stack
rules). An entry that failed pass 1 is remembered by its raw id, so that references to it are
not reported a second time as "unknown": one mistake, one message.
"""

from __future__ import annotations

import difflib
import functools
import re
import tomllib
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from gateway_core.content.errors import ContentError, Problem
from gateway_core.content.pack import ContentPack
from gateway_core.content.schema import (
    EQUIPMENT_TYPES,
    Bounds,
    EquipSlot,
    GateDef,
    ItemDef,
    ItemType,
    MapDef,
    MonsterDef,
    NpcDef,
    ShopDef,
    SkillDef,
    SpawnDef,
    StarterKitDef,
)

__all__ = ["PACK_FILE", "SECTIONS", "build_pack", "default_pack_path", "load_content",
           "load_default_pack", "load_pack"]

#: The root file of a pack given as a directory.
PACK_FILE: Final = "pack.toml"
#: Section name (``[[map]]``) -> the model of its entries.
SECTIONS: Final[Mapping[str, type[BaseModel]]] = MappingProxyType({
    "map": MapDef,
    "gate": GateDef,
    "npc": NpcDef,
    "monster": MonsterDef,
    "spawn": SpawnDef,
    "item": ItemDef,
    "shop": ShopDef,
    "skill": SkillDef,
    "starter_kit": StarterKitDef,
})
_KEY_FIELD: Final = {"starter_kit": "job"}
_HEADER: Final = ("name", "version", "description", "include")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")

M = TypeVar("M", bound=BaseModel)


def default_pack_path() -> Path:
    """The directory of the pack shipped with the project (package data)."""
    return Path(__file__).resolve().parent / "default"


@functools.cache
def load_default_pack() -> ContentPack:
    """The shipped pack, loaded once per process (packs are immutable)."""
    return load_pack(default_pack_path())


def load_content(path: str | Path | None) -> ContentPack:
    """The pack a setting such as WORLD_CONTENT names: the one at ``path``, or the shipped one
    when ``path`` is empty; a pack that does not load raises :class:`ContentError` with the
    loader's message."""
    return load_pack(path) if path else load_default_pack()


def load_pack(path: str | Path) -> ContentPack:
    """Load and check the pack at ``path``: a directory holding ``pack.toml`` or one TOML file.

    Raises :class:`ContentError` listing every problem found.
    """
    path = Path(path)
    if path.is_dir():
        root = path / PACK_FILE
        if not root.is_file():
            raise ContentError([Problem(str(path), f"not a content pack: no {PACK_FILE} in it")])
    elif path.is_file():
        root = path
    else:
        raise ContentError([Problem(str(path), "no such file or directory")])
    problems: list[Problem] = []
    root_doc = _read(root, root.name, problems)
    if root_doc is None:
        raise ContentError(problems)
    documents: list[tuple[str, Mapping[str, Any]]] = [(root.name, root_doc)]
    for shown, file in _includes(root, root_doc, problems):
        doc = _read(file, shown, problems)
        if doc is not None:
            documents.append((shown, doc))
    return build_pack(documents, problems)


def build_pack(documents: Sequence[tuple[str, Mapping[str, Any]]],
               problems: Sequence[Problem] = ()) -> ContentPack:
    """Check parsed TOML documents, ``(file name, document)``, the root file first, as one pack.

    The root's ``include`` is not followed here (:func:`load_pack` reads the files);
    ``problems`` found before (unreadable files) are reported with the rest.
    """
    if not documents:
        raise ContentError([*problems, Problem("<pack>", "no files")])
    checker = _Checker(list(problems))
    header: dict[str, Any] = {}
    for position, (file, doc) in enumerate(documents):
        for key, value in doc.items():
            if key in _HEADER:
                if position == 0:
                    header[key] = value
                else:
                    checker.add(file, f"only the root file ({documents[0][0]}) may set it",
                                field=key)
            elif key in SECTIONS:
                checker.read_section(file, key, value)
            else:
                close = difflib.get_close_matches(key, [*SECTIONS, *_HEADER], n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                known = ", ".join(f"[[{name}]]" for name in SECTIONS)
                checker.add(file, f"unknown section{hint}; a pack has {known}", entry=key)
    root = documents[0][0]
    name = checker.header_text(root, header, "name", required=True)
    version = checker.header_text(root, header, "version", required=True)
    description = checker.header_text(root, header, "description", required=False)
    pack = checker.check(name, version, description)
    if checker.problems:
        # Reported in the order of the files and of the entries in them, as an editor shows
        # them; a file's own problems (header, sections) first. The sort is stable.
        files = {file: rank for rank, (file, _) in enumerate(documents)}
        raise ContentError(sorted(checker.problems, key=lambda p: (
            files.get(p.file, -1), checker.order.get((p.file, p.entry), -1))))
    return pack


# --- reading ----------------------------------------------------------------------------------


def _read(path: Path, shown: str, problems: list[Problem]) -> dict[str, Any] | None:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        problems.append(Problem(shown, f"cannot read: {exc.strerror or exc}"))
    except UnicodeDecodeError:
        problems.append(Problem(shown, "not UTF-8 text"))
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_POSITION.search(message)
        if found is None:  # "(at end of document)": blame the last line
            message = message.replace(" (at end of document)", "")
            line = max(1, path.read_text(encoding="utf-8").count("\n"))
            problems.append(Problem(shown, f"TOML syntax error: {message} (at the end)",
                                    line=line))
        else:
            problems.append(Problem(shown, f"TOML syntax error: {message[:found.start()]} "
                                           f"(column {found.group(2)})",
                                    line=int(found.group(1))))
    return None


def _includes(root: Path, doc: Mapping[str, Any], problems: list[Problem]
              ) -> list[tuple[str, Path]]:
    """The files the root includes, as (name shown in messages, path); bad ones reported."""
    value = doc.get("include", [])
    if not isinstance(value, list):
        problems.append(Problem(root.name, "must be an array of file names", field="include"))
        return []
    base = root.parent.resolve()
    found: list[tuple[str, Path]] = []
    seen: set[Path] = {root.resolve()}
    for index, name in enumerate(value):
        place = f"include[{index}]"
        if not isinstance(name, str) or not name:
            problems.append(Problem(root.name, "must be a file name", field=place))
            continue
        file = (base / name).resolve()
        if not file.is_relative_to(base):
            problems.append(Problem(root.name, f"{name!r} lies outside the pack's directory",
                                    field=place))
        elif file in seen:
            problems.append(Problem(root.name, f"{name!r} is included twice", field=place))
        elif not file.is_file():
            problems.append(Problem(root.name, f"{name!r}: no such file", field=place))
        else:
            seen.add(file)
            found.append((file.relative_to(base).as_posix(), file))
    return found


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path


def _error_message(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required field missing"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "value_error":  # our own validators already name the value
        return error["msg"].removeprefix("Value error, ")
    message = error["msg"]
    value = error.get("input")
    if isinstance(value, dict):
        return f"{message} (got a table)"
    if isinstance(value, list):
        return f"{message} (got an array)"
    return f"{message} (got {value!r})"


# --- checking ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Located:
    """An entry that passed its model, with where it was written."""

    file: str
    section: str
    label: str
    model: BaseModel


class _Checker:
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        self.entries: dict[str, list[_Located]] = {section: [] for section in SECTIONS}
        # Raw ids of entries refused by their model: references to them are not "unknown".
        self.refused: dict[str, set[Hashable]] = {section: set() for section in SECTIONS}
        self.order: dict[tuple[str, str], int] = {}  # (file, entry label) -> position

    def add(self, file: str, message: str, entry: str = "", field: str = "") -> None:
        self.problems.append(Problem(file, message, entry=entry, field=field))

    def at(self, where: _Located, field: str, message: str) -> None:
        self.add(where.file, message, entry=where.label, field=field)

    def header_text(self, file: str, header: Mapping[str, Any], key: str, *,
                    required: bool) -> str:
        value = header.get(key)
        if value is None:
            if required:
                self.add(file, "required field missing", field=key)
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            self.add(file, f"must be a non-empty string (got {value!r})", field=key)
            return ""
        return value

    def read_section(self, file: str, section: str, value: Any) -> None:
        if not isinstance(value, list) or not all(isinstance(raw, dict) for raw in value):
            self.add(file, f"must be an array of tables ([[{section}]])", entry=section)
            return
        model = SECTIONS[section]
        key_field = _KEY_FIELD.get(section, "id")
        for index, raw in enumerate(value):
            key = raw.get(key_field)
            has_key = isinstance(key, int | str) and not isinstance(key, bool)
            label = f"{section}[{index}]" + (f" ({key_field}={key})" if has_key else "")
            self.order[(file, label)] = len(self.order)
            try:
                entry = model.model_validate(raw)
            except ValidationError as exc:
                for error in exc.errors():
                    self.add(file, _error_message(error), entry=label,
                             field=_field_path(error["loc"]))
                if has_key:
                    self.refused[section].add(key)
                continue
            self.entries[section].append(_Located(file, section, label, entry))

    def typed(self, section: str, model: type[M]) -> list[tuple[_Located, M]]:
        return [(where, where.model) for where in self.entries[section]
                if isinstance(where.model, model)]

    def index(self, section: str, model: type[M], key: Callable[[M], Hashable],
              field: str = "id") -> dict[Any, M]:
        """The entries of a section by key; a repeated key is reported where it repeats."""
        table: dict[Any, M] = {}
        first: dict[Hashable, _Located] = {}
        for where, entry in self.typed(section, model):
            value = key(entry)
            if value in first:
                earlier = first[value]
                self.at(where, field, f"duplicate {section} {field} {value!r} (first at "
                                      f"{earlier.file}: {earlier.label})")
            else:
                first[value] = where
                table[value] = entry
        return table

    def ref(self, where: _Located, field: str, value: Hashable, table: Mapping[Any, M],
            section: str) -> M | None:
        """The entry ``value`` names, or ``None`` (reported unless that entry was refused)."""
        target = table.get(value)
        if target is None and value not in self.refused[section]:
            self.at(where, field, f"unknown {section} {value!r}")
        return target

    def inside(self, where: _Located, field: str, x: float, y: float, map_def: MapDef) -> None:
        bounds = map_def.bounds
        if _valid(bounds) and not bounds.contains(x, y):
            self.at(where, field, f"({x:g}, {y:g}) lies outside the bounds of map {map_def.id} "
                                  f"({_describe(bounds)})")

    def check(self, name: str, version: str, description: str) -> ContentPack:
        maps = self.index("map", MapDef, lambda m: m.id)
        gates = self.index("gate", GateDef, lambda g: g.id)
        npcs = self.index("npc", NpcDef, lambda n: n.id)
        monsters = self.index("monster", MonsterDef, lambda m: m.id)
        spawns = self.index("spawn", SpawnDef, lambda s: s.id)
        items = self.index("item", ItemDef, lambda i: i.id)
        self.index("item", ItemDef, lambda i: (i.type, i.number), field="number")
        shops = self.index("shop", ShopDef, lambda s: s.id)
        skills = self.index("skill", SkillDef, lambda s: s.id)
        kits = self.index("starter_kit", StarterKitDef, lambda k: k.job, field="job")

        self._check_maps()
        self._check_gates(maps, gates)
        for where, npc in self.typed("npc", NpcDef):
            if (map_def := self.ref(where, "map", npc.map, maps, "map")) is not None:
                self.inside(where, "position", npc.position.x, npc.position.y, map_def)
            if npc.shop is not None:
                self.ref(where, "shop", npc.shop, shops, "shop")
        self._check_monsters(items)
        for where, spawn in self.typed("spawn", SpawnDef):
            self.ref(where, "monster", spawn.monster, monsters, "monster")
            if (map_def := self.ref(where, "map", spawn.map, maps, "map")) is not None:
                self._check_circle(where, spawn, map_def)
        self._check_items()
        for where, shop in self.typed("shop", ShopDef):
            listed: set[str] = set()
            for index, line in enumerate(shop.items):
                self.ref(where, f"items[{index}].item", line.item, items, "item")
                if line.item in listed:
                    self.at(where, f"items[{index}].item", f"{line.item!r} is listed twice")
                listed.add(line.item)
        self._check_skills(skills)
        self._check_kits(items, skills)
        return ContentPack(
            name=name, version=version, description=description, maps=_frozen(maps),
            gates=_frozen(gates), npcs=_frozen(npcs), monsters=_frozen(monsters),
            spawns=_frozen(spawns), items=_frozen(items), shops=_frozen(shops),
            skills=_frozen(skills), starter_kits=_frozen(kits))

    def _check_maps(self) -> None:
        for where, map_def in self.typed("map", MapDef):
            bounds = map_def.bounds
            for axis in ("x", "y"):
                low, high = getattr(bounds, f"min_{axis}"), getattr(bounds, f"max_{axis}")
                if low >= high:
                    self.at(where, f"bounds.min_{axis}",
                            f"must be less than bounds.max_{axis} ({low:g} >= {high:g})")
            self.inside(where, "spawn", map_def.spawn.x, map_def.spawn.y, map_def)
            for index, point in enumerate(map_def.revive):
                self.inside(where, f"revive[{index}]", point.x, point.y, map_def)

    def _check_gates(self, maps: Mapping[int, MapDef], gates: Mapping[int, GateDef]) -> None:
        for where, gate in self.typed("gate", GateDef):
            if (map_def := self.ref(where, "map", gate.map, maps, "map")) is not None:
                self.inside(where, "position", gate.position.x, gate.position.y, map_def)
            dest = gate.destination
            if (target := self.ref(where, "destination.map", dest.map, maps, "map")) is None:
                continue
            self.inside(where, "destination", dest.x, dest.y, target)
            # Arriving on a gate would warp the player again at once, possibly forever.
            for other in gates.values():
                if other.map == dest.map and _distance(other.position.x, other.position.y,
                                                       dest.x, dest.y) <= other.radius:
                    self.at(where, "destination",
                            f"lies within gate {other.id}: arrivals would be warped again")

    def _check_monsters(self, items: Mapping[str, ItemDef]) -> None:
        for where, monster in self.typed("monster", MonsterDef):
            for index, drop in enumerate(monster.drops):
                place = f"drops[{index}]"
                if (drop.item is None) == (drop.zuly is None):
                    self.at(where, place, "a drop has either item = KEY or zuly = {min, max}")
                    continue
                if drop.zuly is not None:
                    if drop.zuly.min > drop.zuly.max:
                        self.at(where, f"{place}.zuly.min",
                                f"more than zuly.max ({drop.zuly.min} > {drop.zuly.max})")
                    continue
                if drop.min > drop.max:
                    self.at(where, f"{place}.min", f"more than max ({drop.min} > {drop.max})")
                key = drop.item or ""
                item = self.ref(where, f"{place}.item", key, items, "item")
                if item is not None and drop.max > item.stack:
                    self.at(where, f"{place}.max",
                            f"{key!r} stacks up to {item.stack} (max = {drop.max})")

    def _check_circle(self, where: _Located, spawn: SpawnDef, map_def: MapDef) -> None:
        self.inside(where, "centre", spawn.centre.x, spawn.centre.y, map_def)
        bounds, (x, y), r = map_def.bounds, (spawn.centre.x, spawn.centre.y), spawn.radius
        if _valid(bounds) and bounds.contains(x, y) and not (
                bounds.contains(x - r, y - r) and bounds.contains(x + r, y + r)):
            self.at(where, "radius", f"the circle of radius {r:g} around ({x:g}, {y:g}) "
                                     f"reaches outside map {map_def.id} ({_describe(bounds)})")

    def _check_items(self) -> None:
        for where, item in self.typed("item", ItemDef):
            equipment = item.type in EQUIPMENT_TYPES
            kind = ItemType(item.type).name.lower()
            if equipment and item.stack != 1:
                self.at(where, "stack", f"equipment ({kind}) does not stack: must be 1")
            if not equipment and item.stats is not None:
                self.at(where, "stats", f"only equipment has stats, not {kind} items")
            if item.type == ItemType.CONSUMABLE:
                if item.effect is None:
                    self.at(where, "effect", "a consumable needs an effect")
                elif item.effect.kind != "return" and item.effect.amount <= 0:
                    self.at(where, "effect.amount", "must be more than 0 for a heal")
            elif item.effect is not None:
                self.at(where, "effect", f"only consumables have an effect, not {kind} items")
            if item.ammo is not None and item.type != ItemType.MATERIAL:
                self.at(where, "ammo", f"ammunition is a material item (type 12), not {kind}")
            if item.ride_part is not None and item.type != ItemType.RIDING:
                self.at(where, "ride_part", f"only riding items (type 14) have a part, not {kind}")

    def _check_skills(self, skills: Mapping[int, SkillDef]) -> None:
        in_loop: set[int] = set()  # a loop of next levels is reported once, at its first skill
        for where, skill in self.typed("skill", SkillDef):
            effect = skill.effect
            if effect.kind == "buff" and (effect.stat is None or effect.duration_seconds <= 0):
                self.at(where, "effect", "a buff needs a stat and duration_seconds > 0")
            if effect.kind != "buff" and effect.stat is not None:
                self.at(where, "effect.stat", f"only a buff raises a stat, not {effect.kind!r}")
            if skill.next is None:
                continue
            following = self.ref(where, "next", skill.next, skills, "skill")
            if following is None:
                continue
            if following.job != skill.job:
                self.at(where, "next", f"skill {following.id} ({following.name!r}) is of job "
                                       f"{following.job}, not of this skill's job {skill.job}")
            if following.level < skill.level:
                self.at(where, "next", f"skill {following.id} ({following.name!r}) needs level "
                                       f"{following.level}, below this skill's level "
                                       f"{skill.level}")
            if skill.id not in in_loop and (loop := _next_loop(skill, skills)):
                in_loop.update(loop)
                chain = " -> ".join(str(number) for number in (*loop, skill.id))
                self.at(where, "next", f"the next levels loop back to this skill ({chain})")

    def _check_kits(self, items: Mapping[str, ItemDef], skills: Mapping[int, SkillDef]) -> None:
        for where, kit in self.typed("starter_kit", StarterKitDef):
            known: set[int] = set()
            for index, number in enumerate(kit.skills):
                place = f"skills[{index}]"
                if number in known:
                    self.at(where, place, f"skill {number} is listed twice")
                    continue
                known.add(number)
                skill = self.ref(where, place, number, skills, "skill")
                if skill is not None and skill.job not in (kit.job, 0):
                    self.at(where, place, f"skill {number} ({skill.name!r}) is of job "
                                          f"{skill.job}: a kit has skills of its job "
                                          f"({kit.job}) or visitor skills (job 0)")
            worn: dict[EquipSlot, str] = {}
            for index, line in enumerate(kit.items):
                item = self.ref(where, f"items[{index}].item", line.item, items, "item")
                if item is None:
                    continue
                if line.count > item.stack:
                    self.at(where, f"items[{index}].count",
                            f"{line.item!r} stacks up to {item.stack} (count = {line.count})")
                if not line.equip:
                    continue
                if item.slot is None:
                    self.at(where, f"items[{index}].equip",
                            f"{line.item!r} is not equipment and cannot be equipped")
                elif item.slot in worn and item.slot is not EquipSlot.JEWELLERY:
                    self.at(where, f"items[{index}].equip", f"the {item.slot.value} slot "
                                                            f"already holds {worn[item.slot]!r}")
                else:
                    worn[item.slot] = line.item


def _next_loop(skill: SkillDef, skills: Mapping[int, SkillDef]) -> tuple[int, ...]:
    """The skill ids from ``skill`` along ``next`` when that chain comes back to ``skill``
    (a skill that is its own next level included); empty when the chain ends."""
    chain = [skill.id]
    seen = {skill.id}
    current = skills.get(skill.next) if skill.next is not None else None
    while current is not None:
        if current.id == skill.id:
            return tuple(chain)
        if current.id in seen:  # a loop further on, reported at its own skills
            return ()
        chain.append(current.id)
        seen.add(current.id)
        current = skills.get(current.next) if current.next is not None else None
    return ()


def _valid(bounds: Bounds) -> bool:
    return bounds.min_x < bounds.max_x and bounds.min_y < bounds.max_y


def _describe(bounds: Bounds) -> str:
    return f"x {bounds.min_x:g}..{bounds.max_x:g}, y {bounds.min_y:g}..{bounds.max_y:g}"


def _distance(ax: float, ay: float, bx: float, by: float) -> float:
    return float(((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5)


def _frozen(table: dict[Any, M]) -> Mapping[Any, M]:
    return MappingProxyType(table)
