"""A loaded, validated content pack: read-only tables keyed the way the services look them up."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from gateway_core.content.schema import (
    GateDef,
    ItemDef,
    MapDef,
    MonsterDef,
    NpcDef,
    ShopDef,
    SkillDef,
    SpawnDef,
    StarterKitDef,
)

__all__ = ["ContentPack", "summary"]


@dataclass(frozen=True, eq=False)
class ContentPack:
    """Everything a pack defines; every cross reference in it resolves (the loader checked).

    The mappings are read-only (``MappingProxyType``) and keep the order of the files, so that
    iteration (and :func:`summary`) follows the pack as written.
    """

    name: str
    version: str
    description: str
    maps: Mapping[int, MapDef]
    gates: Mapping[int, GateDef]
    npcs: Mapping[str, NpcDef]
    monsters: Mapping[str, MonsterDef]
    spawns: Mapping[str, SpawnDef]
    items: Mapping[str, ItemDef]
    shops: Mapping[str, ShopDef]
    skills: Mapping[int, SkillDef]
    starter_kits: Mapping[int, StarterKitDef]

    @functools.cached_property
    def _items_by_client(self) -> Mapping[tuple[int, int], ItemDef]:
        return {(item.type, item.number): item for item in self.items.values()}

    def item_by_client(self, item_type: int, number: int) -> ItemDef | None:
        """The item the client calls ``(type, number)``, ``None`` when the pack has none."""
        return self._items_by_client.get((item_type, number))

    def gates_on(self, map_id: int) -> list[GateDef]:
        return [gate for gate in self.gates.values() if gate.map == map_id]

    def npcs_on(self, map_id: int) -> list[NpcDef]:
        return [npc for npc in self.npcs.values() if npc.map == map_id]

    def spawns_on(self, map_id: int) -> list[SpawnDef]:
        return [spawn for spawn in self.spawns.values() if spawn.map == map_id]

    def skills_for(self, job: int) -> list[SkillDef]:
        return [skill for skill in self.skills.values() if skill.job == job]


def summary(pack: ContentPack) -> str:
    """A few lines for a person: the pack, how many entries of each kind, the maps."""
    counts = [
        (len(pack.maps), "map"), (len(pack.gates), "gate"), (len(pack.npcs), "npc"),
        (len(pack.monsters), "monster"), (len(pack.spawns), "spawn"),
        (len(pack.items), "item"), (len(pack.shops), "shop"), (len(pack.skills), "skill"),
        (len(pack.starter_kits), "starter kit"),
    ]
    lines = [f"content pack {pack.name} {pack.version}"]
    if pack.description:
        lines.append(f"  {pack.description}")
    lines.append("  " + _counted(counts))
    for map_def in pack.maps.values():
        on_map = [(len(pack.npcs_on(map_def.id)), "npc"),
                  (len(pack.spawns_on(map_def.id)), "spawn"),
                  (len(pack.gates_on(map_def.id)), "gate")]
        lines.append(f"  map {map_def.id}: {map_def.name} ({_counted(on_map)})")
    return "\n".join(lines)


def _counted(counts: list[tuple[int, str]]) -> str:
    return ", ".join(f"{n} {word}{'' if n == 1 else 's'}" for n, word in counts)
