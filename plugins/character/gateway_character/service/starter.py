"""What a new character starts with, from the content pack's starter kits (docs/content.md).

The pack is loaded once, when the service is built (so a pack that does not load fails
start-up); character creation then only reads the kit of the new character's job.
"""

from __future__ import annotations

from gateway_character.service.items import SKILL_SLOTS
from gateway_core.api import ContentPack

__all__ = ["starter_skills"]


def starter_skills(pack: ContentPack, job: int) -> list[int]:
    """The skill slots of a new character of ``job``: the kit's skills from slot 0, the rest
    empty (0); all empty when the pack has no kit for the job.

    The kit's items and zuly: :func:`gateway_character.service.inventory.starter_inventory`.
    """
    kit = pack.starter_kits.get(job)
    skills = list(kit.skills[:SKILL_SLOTS]) if kit is not None else []
    return skills + [0] * (SKILL_SLOTS - len(skills))
