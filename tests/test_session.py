"""Sessions and the connection registry: indexes, typed plugin data, state changes, broadcast.

The socket side is replaced at its boundary, the ``Outbox`` protocol, by a recorder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from gateway_core.records import (
    SELECTED_CHARACTER,
    WORLD_PLACEMENT,
    Position,
    RecordWriter,
    SelectedCharacter,
    WorldPlacement,
)
from gateway_core.session import ConnectionRegistry, Key, Session, SessionState

#: The owners the built-in plugins claim, and a writer for each.
OWNERS = {SELECTED_CHARACTER: "character", WORLD_PLACEMENT: "world"}
CHARACTER = RecordWriter("character", OWNERS)
WORLD = RecordWriter("world", OWNERS)


def select(session: Session, name: str) -> None:
    CHARACTER.set(session, SELECTED_CHARACTER, SelectedCharacter(1, name, 1, Position()))


def place(session: Session, object_id: int | None) -> None:
    WORLD.set(session, WORLD_PLACEMENT, WorldPlacement(1, Position(), object_id))


@dataclass
class RecordingOutbox:
    """Outbox boundary: records what the session would have written."""

    sent: list[Any] = field(default_factory=list)
    encoded: list[tuple[bytes, str]] = field(default_factory=list)
    closes: list[str] = field(default_factory=list)
    closed: bool = False

    def send_packet(self, packet: Any) -> None:
        self.sent.append(packet)

    def send_encoded(self, data: bytes, type_name: str) -> None:
        self.encoded.append((data, type_name))

    def close(self, reason: str) -> None:
        self.closes.append(reason)
        self.closed = True


@dataclass(frozen=True)
class FakePacket:
    NAME = "PAKWC_NORMAL_CHAT"
    text: str


def make_service(encodes: list[object] | None = None) -> ConnectionRegistry:
    def encode(packet: Any) -> bytes:
        if encodes is not None:
            encodes.append(packet)
        return b"wire:" + packet.text.encode()

    return ConnectionRegistry(encode=encode)


def add_session(service: ConnectionRegistry) -> tuple[Session, RecordingOutbox]:
    outbox = RecordingOutbox()
    session = Session(service.next_connection_id(), peer_address=("127.0.0.1", 1),
                      outbox=outbox)
    service.add(session)
    return session, outbox


def test_session_lookups_follow_field_and_record_changes() -> None:
    service = make_service()
    a, _ = add_session(service)
    b, _ = add_session(service)
    assert service.get(a.connection_id) is a
    a.user_id = 7
    b.user_id = 7
    assert service.by_user_id(7) == [a, b]
    a.user_id = 8
    assert service.by_user_id(7) == [b] and service.by_user_id(8) == [a]
    select(a, "Alice")
    assert service.by_character_name("aLiCe") is a
    select(a, "Alicia")
    assert service.by_character_name("alice") is None
    place(a, 300)
    assert service.by_world_object_id(300) is a
    place(a, None)  # left the map: the placement stays, the object id is gone
    assert service.by_world_object_id(300) is None
    place(a, 300)
    service.remove(a)
    assert service.get(a.connection_id) is None
    assert service.by_character_name("alicia") is None
    assert service.by_world_object_id(300) is None
    assert service.by_user_id(8) == []
    assert len(service) == 1 and list(service) == [b]
    select(a, "Alicia")  # a removed session is no longer indexed
    assert service.by_character_name("alicia") is None


def test_clearing_a_record_drops_it_from_the_index() -> None:
    service = make_service()
    a, _ = add_session(service)
    select(a, "Dora")
    CHARACTER.clear(a, SELECTED_CHARACTER)
    assert a.records.get(SELECTED_CHARACTER) is None
    assert service.by_character_name("dora") is None


def test_session_fields_and_records_set_before_add_are_indexed() -> None:
    service = make_service()
    session = Session(service.next_connection_id())
    select(session, "Bob")
    place(session, 12)
    session.user_id = 3
    service.add(session)
    assert service.by_character_name("BOB") is session
    assert service.by_world_object_id(12) is session
    assert service.by_user_id(3) == [session]
    with pytest.raises(ValueError):
        service.add(session)


@pytest.mark.anyio
async def test_character_name_lookup_prefers_the_world_leg() -> None:
    service = make_service()
    world, _ = add_session(service)
    lobby, _ = add_session(service)
    select(world, "Carol")
    select(lobby, "Carol")
    await world.set_state(SessionState.IN_WORLD)
    await lobby.set_state(SessionState.CHARACTER_SELECT)
    assert service.by_character_name("carol") is world


def test_plugin_data_is_typed_and_keys_never_collide() -> None:
    session = Session(1)
    mine = Key[int]("counter")
    theirs = Key[int]("counter")  # same name, other plugin: a different key
    assert session.plugin_data.get(mine) is None
    session.plugin_data.set(mine, 1)
    assert session.plugin_data.get(mine) == 1
    assert theirs not in session.plugin_data
    assert session.plugin_data.setdefault(theirs, lambda: 5) == 5
    assert session.plugin_data.setdefault(theirs, lambda: 9) == 5
    assert session.plugin_data.require(mine) == 1
    assert session.plugin_data.pop(mine) == 1
    with pytest.raises(KeyError):
        session.plugin_data.require(mine)
    assert session.plugin_data.names() == ["counter"]


@pytest.mark.anyio
async def test_set_state_is_the_one_place_that_fires_the_hook() -> None:
    seen: list[tuple[int, SessionState, SessionState]] = []

    async def changed(session: Session, old: SessionState, new: SessionState) -> None:
        seen.append((session.connection_id, old, new))

    service = ConnectionRegistry(encode=lambda p: b"", on_state_changed=changed)
    session, _ = add_session(service)
    assert session.state is SessionState.CONNECTED and not session.authenticated
    await session.set_state(SessionState.LOGGED_IN)
    await session.set_state(SessionState.LOGGED_IN)  # no change, no hook
    assert session.authenticated
    await session.set_state(SessionState.CLOSING)
    assert not session.authenticated
    assert seen == [
        (session.connection_id, SessionState.CONNECTED, SessionState.LOGGED_IN),
        (session.connection_id, SessionState.LOGGED_IN, SessionState.CLOSING),
    ]
    with pytest.raises(AttributeError):
        session.state = SessionState.IN_WORLD  # type: ignore[misc]


def test_broadcast_encodes_once_and_skips_closed_sessions() -> None:
    encodes: list[object] = []
    service = make_service(encodes)
    sessions = [add_session(service) for _ in range(3)]
    sessions[1][1].closed = True
    packet = FakePacket("hi")
    count = service.broadcast([s for s, _ in sessions], packet)
    assert count == 2
    assert encodes == [packet]
    assert sessions[0][1].encoded == [(b"wire:hi", "PAKWC_NORMAL_CHAT")]
    assert sessions[1][1].encoded == []
    assert sessions[2][1].encoded == [(b"wire:hi", "PAKWC_NORMAL_CHAT")]
    assert service.broadcast([], packet) == 0 and len(encodes) == 1


def test_send_and_close_go_through_the_outbox() -> None:
    service = make_service()
    session, outbox = add_session(service)
    service.send(session, FakePacket("x"))
    assert outbox.sent == [FakePacket("x")]
    assert not session.closed
    session.close("bye")
    assert outbox.closes == ["bye"] and session.closed
    assert Session(99).closed  # no connection at all


def test_in_state_lists_sessions_by_state() -> None:
    service = make_service()
    a, _ = add_session(service)
    add_session(service)
    a._state = SessionState.IN_WORLD  # direct write only to set up the scenario
    assert service.in_state(SessionState.IN_WORLD) == [a]
    assert len(service.in_state(SessionState.CONNECTED)) == 1
