"""New characters start with the starter kit of the content pack (CHARACTER_CONTENT): the skills
of the job 0 kit, in slot order from slot 0; its zuly; its items, equipped or in the bag."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
import pytest
from gateway_character.service import CharacterOptions, CharacterReferenceService
from gateway_character.service.items import SKILL_SLOTS
from gateway_character.service.starter import starter_skills
from gateway_protos.v1 import character_pb2 as c
from gateway_protos.v1 import character_pb2_grpc

from gateway_core.api import ContentError, load_default_pack, load_pack
from gateway_core.config import load_settings
from gateway_core.plugins import GatewayPluginManager
from gateway_core.service_host import build_services
from gateway_core.testing import ManualClock, serve_on_loopback

from ..conftest import CharacterHarness

pytestmark = pytest.mark.anyio

ACCOUNT = 7
#: A one-file pack whose visitor kit teaches two skills, the second listed first.
PACK = """
name = "kit-test"
version = "1"

[[skill]]
id = 501
name = "Jab"
job = 0
effect = { kind = "damage", power = 5 }

[[skill]]
id = 502
name = "Bandage"
job = 0
effect = { kind = "heal", power = 10 }

[[skill]]
id = 503
name = "Slam"
job = 111
level = 10
effect = { kind = "damage", power = 20 }

[[starter_kit]]
job = 0
skills = [502, 501]

[[starter_kit]]
job = 111
skills = [503]
"""


async def _new_character(h: CharacterHarness, name: str = "Hero") -> c.CharacterState:
    reply = await h.stub.CreateCharacter(
        c.CreateCharacterRequest(account_id=ACCOUNT, name=name, race=0, stone=1, hair=2, face=3)
    )
    assert reply.result == c.CREATE_CHAR_RESULT_OK, reply.message
    return await h.stub.GetCharacter(c.GetCharacterRequest(character_id=reply.character.id))


@pytest.fixture
def pack_file(tmp_path: Path) -> Path:
    path = tmp_path / "kit-pack.toml"
    path.write_text(PACK)
    return path


@pytest.fixture
async def kit_chars(
    pack_file: Path, database: Callable[[str], str]
) -> AsyncIterator[CharacterHarness]:
    """The character service on the test pack, named the way CHARACTER_CONTENT names it."""
    clock = ManualClock()
    options = CharacterOptions(content=str(pack_file))
    service = CharacterReferenceService(database("character"), options, clock=clock)
    async with (
        serve_on_loopback(service, "character") as host,
        grpc.aio.insecure_channel(host.address) as channel,
    ):
        yield CharacterHarness(character_pb2_grpc.CharacterStub(channel), clock, service)


def test_starter_skills_fill_the_slots_from_0_and_no_kit_means_none(pack_file: Path) -> None:
    pack = load_pack(pack_file)
    assert starter_skills(pack, 0) == [502, 501] + [0] * (SKILL_SLOTS - 2)
    assert starter_skills(pack, 111)[:2] == [503, 0]
    assert starter_skills(pack, 211) == [0] * SKILL_SLOTS


async def test_a_new_character_of_the_default_pack_knows_the_visitor_starter_skills(
    chars: CharacterHarness,
) -> None:
    visitor = load_default_pack().starter_kits[0].skills
    assert visitor and visitor[0] == 11  # Steady Strike
    state = await _new_character(chars)
    assert state.job == 0 and state.level == 1
    assert list(state.skills) == [*visitor] + [0] * (SKILL_SLOTS - len(visitor))
    # Vitals of a level 1 visitor, and the kit's zuly and items (see test_items_service).
    kit = load_default_pack().starter_kits[0]
    assert state.hp > 0 and state.mp > 0 and state.money == kit.zuly > 0
    assert sum(1 for item in state.inventory if item.header) == len(kit.items)


async def test_a_new_character_of_another_pack_gets_that_packs_kit(
    kit_chars: CharacterHarness,
) -> None:
    assert kit_chars.service.content.name == "kit-test"
    state = await _new_character(kit_chars)
    assert list(state.skills[:3]) == [502, 501, 0] and len(state.skills) == SKILL_SLOTS
    # Saved like any other state: the first keeps its own, a second one starts with the kit.
    state.skills[2] = 503
    await kit_chars.stub.SaveCharacter(c.SaveCharacterRequest(state=state))
    second = await _new_character(kit_chars, "Other")
    assert list(second.skills[:3]) == [502, 501, 0]
    first = await kit_chars.stub.GetCharacter(c.GetCharacterRequest(character_id=state.id))
    assert list(first.skills[:3]) == [502, 501, 503]


async def test_a_pack_without_a_visitor_kit_gives_no_skills(
    tmp_path: Path, database: Callable[[str], str]
) -> None:
    path = tmp_path / "no-kit.toml"
    path.write_text('name = "no-kit"\nversion = "1"\n')
    service = CharacterReferenceService(database("character"), CharacterOptions(content=str(path)))
    async with (
        serve_on_loopback(service, "character") as host,
        grpc.aio.insecure_channel(host.address) as channel,
    ):
        h = CharacterHarness(character_pb2_grpc.CharacterStub(channel), ManualClock(), service)
        state = await _new_character(h)
        assert list(state.skills) == [0] * SKILL_SLOTS


def _build(tmp_path: Path, content: str) -> CharacterReferenceService:
    """The character service as the core builds it from the settings."""
    pm = GatewayPluginManager()
    pm.load_plugins(load=["character"], builtins=False)
    pm.collect_registrations()
    settings = load_settings(
        {"DATA_DIR": str(tmp_path), "CHARACTER_CONTENT": content},
        plugin_settings=pm.plugin_settings,
        environ={},
    )
    (service,) = build_services(pm.services, settings, ["character"]).values()
    assert isinstance(service, CharacterReferenceService)
    return service


def test_character_content_setting_selects_the_pack(tmp_path: Path, pack_file: Path) -> None:
    assert _build(tmp_path, "").content is load_default_pack()
    service = _build(tmp_path, str(pack_file))
    assert service.options.content == str(pack_file)
    assert service.content.name == "kit-test"


def test_a_pack_that_does_not_load_fails_start_up_with_the_loaders_message(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(ContentError) as info:
        _build(tmp_path, str(missing))
    assert str(info.value) == f"{missing}: no such file or directory"

    broken = tmp_path / "broken.toml"
    broken.write_text(PACK.replace("skills = [502, 501]", "skills = [502, 999]"))
    with pytest.raises(ContentError) as info:
        _build(tmp_path, str(broken))
    assert str(info.value) == (
        "broken.toml: starter_kit[0] (job=0): skills[1]: unknown skill 999"
    )
