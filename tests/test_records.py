"""Session records: read by anyone, written only by the plugin that claimed them at start-up."""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import Any

import pytest

from gateway_core.api import hookimpl
from gateway_core.app import Gateway
from gateway_core.metrics import GatewayMetrics
from gateway_core.plugins import GatewayPluginManager
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
from gateway_core.session import ConnectionRegistry, Session

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


# --- watchers ------------------------------------------------------------------------------------

PLACED = WorldPlacement(map_id=1, position=Position(5200.0, 5200.0), object_id=7)


def _watched(registry: Registry, metrics: GatewayMetrics | None = None
             ) -> tuple[ConnectionRegistry, Session]:
    errors = metrics.handler_error if metrics is not None else None
    connections = ConnectionRegistry(encode=lambda p: b"", watchers=registry.record_watchers,
                                     on_watcher_error=errors)
    session = Session(connections.next_connection_id())
    connections.add(session)
    return connections, session


def test_a_watcher_is_told_of_every_write_with_the_old_and_new_values() -> None:
    registry = Registry()
    seen: list[tuple[Session, object, object]] = []
    placements: list[object] = []
    RuntimeRegistrar(registry, "party").watch(
        SELECTED_CHARACTER, lambda session, old, new: seen.append((session, old, new)))
    RuntimeRegistrar(registry, "console").watch(
        WORLD_PLACEMENT, lambda session, old, new: placements.append(new))
    connections, session = _watched(registry)
    writer = RecordWriter("character", {SELECTED_CHARACTER: "character"})
    moved = dataclasses.replace(HERO, map_id=3)
    writer.set(session, SELECTED_CHARACTER, HERO)
    writer.set(session, SELECTED_CHARACTER, moved)
    writer.clear(session, SELECTED_CHARACTER)
    writer.clear(session, SELECTED_CHARACTER)  # nothing there: no write, no call
    assert seen == [(session, None, HERO), (session, HERO, moved), (session, moved, None)]
    assert placements == []  # another key's watcher is not called
    # The registry's own indexes still follow the record.
    assert connections.by_character_name("hero") is None


def test_watchers_run_in_registration_order_after_the_write_is_visible() -> None:
    registry = Registry()
    order: list[str] = []

    def first(session: Session, old: Any, new: Any) -> None:
        assert session.records.get(SELECTED_CHARACTER) is new
        order.append("first")

    RuntimeRegistrar(registry, "a").watch(SELECTED_CHARACTER, first)
    RuntimeRegistrar(registry, "b").watch(SELECTED_CHARACTER, lambda *a: order.append("second"))
    connections, session = _watched(registry)
    RecordWriter("character", {SELECTED_CHARACTER: "character"}).set(
        session, SELECTED_CHARACTER, HERO)
    assert order == ["first", "second"]
    assert connections.by_character_name("HERO") is session


def test_a_watcher_that_raises_is_logged_and_counted_and_the_write_still_happens(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = Registry()
    seen: list[object] = []

    def broken(session: Session, old: Any, new: Any) -> None:
        raise RuntimeError("boom")

    RuntimeRegistrar(registry, "broken").watch(SELECTED_CHARACTER, broken)
    RuntimeRegistrar(registry, "fine").watch(SELECTED_CHARACTER, lambda s, o, n: seen.append(n))
    metrics = GatewayMetrics()
    connections, session = _watched(registry, metrics)
    with caplog.at_level(logging.ERROR, logger="gateway.records"):
        RecordWriter("character", {SELECTED_CHARACTER: "character"}).set(
            session, SELECTED_CHARACTER, HERO)
    assert session.records.get(SELECTED_CHARACTER) is HERO
    assert connections.by_character_name("hero") is session
    assert seen == [HERO]
    assert "plugin broken: watcher of record character.selected raised" in caplog.text
    assert metrics.registry.get_sample_value(
        "gateway_handler_errors_total", {"plugin": "broken"}) == 1


def test_a_bad_watch_is_refused_at_registration() -> None:
    registry = Registry()
    with pytest.raises(PluginError, match=re.escape(
        "plugin 'party': watch('character.selected') is not a RecordKey"
    )):
        RuntimeRegistrar(registry, "party").watch(
            "character.selected", lambda s, o, n: None)  # type: ignore[arg-type]
    with pytest.raises(PluginError, match=re.escape(
        "plugin 'party': watcher of record 'character.selected' is not callable"
    )):
        RuntimeRegistrar(registry, "party").watch(SELECTED_CHARACTER, "hook")  # type: ignore[arg-type]
    assert registry.record_watchers == {}


def test_a_gateway_calls_the_watchers_its_plugins_registered_and_counts_their_errors() -> None:
    seen: list[tuple[object, object]] = []

    class Watching:
        @hookimpl
        def gateway_register_runtime(self, register: RuntimeRegistrar) -> None:
            register.claim(WORLD_PLACEMENT)
            register.watch(WORLD_PLACEMENT, lambda s, old, new: seen.append((old, new)))

    class Broken:
        @hookimpl
        def gateway_register_runtime(self, register: RuntimeRegistrar) -> None:
            register.watch(WORLD_PLACEMENT, lambda s, old, new: 1 / 0)

    pm = GatewayPluginManager()
    pm.register(Watching(), "watching")
    pm.register(Broken(), "broken")
    gateway = Gateway(overrides={"LISTEN_ADDR": "127.0.0.1", "GATEWAY_LOAD_PLUGINS": ()},
                      environ={}, pm=pm)
    session = Session(gateway.connections.next_connection_id())
    gateway.connections.add(session)
    writer = gateway.record_writer("watching")
    writer.set(session, WORLD_PLACEMENT, PLACED)
    writer.clear(session, WORLD_PLACEMENT)
    assert seen == [(None, PLACED), (PLACED, None)]
    assert gateway.metrics.registry.get_sample_value(
        "gateway_handler_errors_total", {"plugin": "broken"}) == 2
