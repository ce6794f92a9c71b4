"""The game's content: maps, gates, NPCs, monsters and their spawns, items, shops, skills and
starter kits, declared in a TOML *content pack* and checked as a whole before use.

The reference services read their game data from a :class:`ContentPack` (the world service:
maps, gates, NPCs, spawns; combat: monsters, skills; economy: items, shops, starter kits).
The format is described in docs/content.md; ``gateway content check [PATH]`` checks a pack.
"""

from __future__ import annotations

from gateway_core.content.errors import ContentError, Problem
from gateway_core.content.loader import (
    PACK_FILE,
    SECTIONS,
    build_pack,
    default_pack_path,
    load_content,
    load_default_pack,
    load_pack,
)
from gateway_core.content.pack import ContentPack, summary
from gateway_core.content.schema import (
    EQUIPMENT_TYPES,
    STACKABLE_TYPES,
    Bounds,
    Destination,
    Drop,
    EquipSlot,
    GateDef,
    ItemDef,
    ItemEffect,
    ItemStats,
    ItemType,
    Job,
    KitItem,
    MapDef,
    MonsterDef,
    NpcDef,
    Point,
    Requirements,
    ShopDef,
    ShopItem,
    SkillDef,
    SkillEffect,
    SpawnDef,
    StarterKitDef,
    ZulyRange,
    equip_slot,
)

__all__ = [
    "EQUIPMENT_TYPES",
    "PACK_FILE",
    "SECTIONS",
    "STACKABLE_TYPES",
    "Bounds",
    "ContentError",
    "ContentPack",
    "Destination",
    "Drop",
    "EquipSlot",
    "GateDef",
    "ItemDef",
    "ItemEffect",
    "ItemStats",
    "ItemType",
    "Job",
    "KitItem",
    "MapDef",
    "MonsterDef",
    "NpcDef",
    "Point",
    "Problem",
    "Requirements",
    "ShopDef",
    "ShopItem",
    "SkillDef",
    "SkillEffect",
    "SpawnDef",
    "StarterKitDef",
    "ZulyRange",
    "build_pack",
    "default_pack_path",
    "equip_slot",
    "load_content",
    "load_default_pack",
    "load_pack",
    "summary",
]
