"""Session records: read by anyone, written only by the plugin that claimed them at start-up."""

from __future__ import annotations

import dataclasses
import re

import pytest

from gateway_core.records import (
    SELECTED_CHARACTER,
    WORLD_PLACEMENT,
    Position,
    RecordKey,
    RecordOwnershipError,
    RecordWriter,
    SelectedCharacter,
    WorldPlacement,
)
from gateway_core.registry import PluginError, Registry, RuntimeRegistrar
from gateway_core.session import Session

HERO = SelectedCharacter(character_id=5, name="Hero", map_id=2, position=Position(1.0, 2.0))


def test_the_owner_writes_a_record_and_everyone_reads_it() -> None:
    session = Session(1)
    writer = RecordWriter("character", {SELECTED_CHARACTER: "character"})
    assert session.records.get(SELECTED_CHARACTER) is None
    writer.set(session, SELECTED_CHARACTER, HERO)
    assert session.records.get(SELECTED_CHARACTER) is HERO
    assert session.records.require(SELECTED_CHARACTER).name == "Hero"
    assert SELECTED_CHARACTER in session.records
    assert session.records.names() == ["character.selected"]
    writer.clear(session, SELECTED_CHARACTER)
    assert SELECTED_CHARACTER not in session.records
    with pytest.raises(KeyError, match=re.escape("character.selected")):
        session.records.require(SELECTED_CHARACTER)


def test_a_plugin_cannot_write_a_record_another_plugin_owns() -> None:
    session = Session(1)
    owners = {SELECTED_CHARACTER: "character"}
    with pytest.raises(RecordOwnershipError, match=re.escape(
        "'chat' wrote record 'character.selected', owned by plugin 'character'"
    )):
        RecordWriter("chat", owners).set(session, SELECTED_CHARACTER, HERO)
    with pytest.raises(RecordOwnershipError, match="claimed by no plugin"):
        RecordWriter("chat", owners).clear(session, WORLD_PLACEMENT)
    assert session.records.get(SELECTED_CHARACTER) is None


def test_records_are_frozen_values() -> None:
    placement = WorldPlacement(map_id=1, position=Position(5200.0, 5200.0), object_id=7)
    with pytest.raises(dataclasses.FrozenInstanceError):
        placement.object_id = 8  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        placement.position.x = 0.0  # type: ignore[misc]


def test_keys_compare_by_identity_not_by_name() -> None:
    session = Session(1)
    mine = RecordKey[int]("score")
    theirs = RecordKey[int]("score")
    RecordWriter("a", {mine: "a"}).set(session, mine, 3)
    assert session.records.get(theirs) is None
    with pytest.raises(RecordOwnershipError):
        RecordWriter("a", {mine: "a"}).set(session, theirs, 4)


def test_a_record_has_one_claimant_at_start_up() -> None:
    registry = Registry()
    RuntimeRegistrar(registry, "character").claim(SELECTED_CHARACTER)
    RuntimeRegistrar(registry, "character").claim(SELECTED_CHARACTER)  # again: harmless
    assert registry.record_owners == {SELECTED_CHARACTER: "character"}
    with pytest.raises(PluginError, match=re.escape(
        "plugin 'thief' claimed record 'character.selected', already claimed by plugin "
        "'character'"
    )):
        RuntimeRegistrar(registry, "thief").claim(SELECTED_CHARACTER)
    with pytest.raises(PluginError, match="is not a RecordKey"):
        RuntimeRegistrar(registry, "thief").claim("character.selected")  # type: ignore[arg-type]
