"""Per-connection session state and the connection registry.

Strategy: a :class:`Session` keeps what its connection owns (ids, state, peer, account), the
game's records of it (:mod:`gateway_core.records`: the selected character, its place in the
world, each written by its owning plugin) and a private per-plugin store; it talks to its
socket only through a small :class:`Outbox` (the server's connection), so sessions can be
built and tested without one. The :class:`ConnectionRegistry` indexes live sessions by
connection id, user id, character name (case-insensitive, from the selected-character record)
and world object id (from the world-placement record); the indexes follow every write of the
field or record, so lookups stay O(1) whoever writes it; after each record write it calls the
plugins' watchers of that key (``register.watch``), each isolated. State changes go through
:meth:`Session.set_state`, the single place that fires ``gateway_session_state_changed``.
"""

from __future__ import annotations

import enum
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeAlias, TypeVar, cast

from gateway_core.records import (
    SELECTED_CHARACTER,
    WORLD_PLACEMENT,
    RecordKey,
    Records,
    RecordWatcher,
    SelectedCharacter,
    WorldPlacement,
)

if TYPE_CHECKING:
    from gateway_core.protocol.connection import RawFrame
    from gateway_core.protocol.packets import Packet

    OutPacket: TypeAlias = Packet | RawFrame

T = TypeVar("T")

log = logging.getLogger("gateway.records")


class SessionState(enum.Enum):
    """Where a connection is in the client's flow (docs/protocol.md §7).

    A client talks to one gateway three times (login, character select, world), each time on
    a new connection; the state is per connection.
    """

    CONNECTED = "connected"  # accepted, nothing authenticated yet
    LOGGED_IN = "logged_in"  # login leg: PAKCS_LOGIN_REQ succeeded
    CHARACTER_SELECT = "character_select"  # character leg: joined with a session id
    IN_WORLD = "in_world"  # world leg: joined for a selected character
    CLOSING = "closing"  # being torn down; nothing more is dispatched


#: States in which the connection counts as authenticated (a login or a join succeeded); the
#: router applies POLICY_AFTER_AUTH there and POLICY_BEFORE_AUTH elsewhere.
AUTHENTICATED_STATES = frozenset(
    {SessionState.LOGGED_IN, SessionState.CHARACTER_SELECT, SessionState.IN_WORLD}
)


class Outbox(Protocol):
    """What a session needs from its connection (implemented by
    :class:`gateway_core.driver.ConnectionDriver`). ``closed`` may be a plain attribute: a
    broadcast reads it for every recipient."""

    @property
    def closed(self) -> bool: ...

    def send_packet(self, packet: OutPacket) -> None:
        """Encode ``packet`` for this connection and queue it (never waits)."""

    def send_encoded(self, data: bytes, type_name: str) -> None:
        """Queue already encoded bytes of one packet of ``type_name`` (never waits)."""

    def close(self, reason: str) -> None:
        """Flush what is queued and close the connection."""


class Key(Generic[T]):
    """A typed key into :attr:`Session.plugin_data`.

    Declare one at module level in the plugin (``LAST_WHISPER = Key[str]("chat.last_whisper")``)
    so that ``session.plugin_data.get(LAST_WHISPER)`` is typed ``str | None``. Keys compare by
    identity, so two plugins can never collide even with equal names; the name is for
    debugging and the admin view.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Key({self.name!r})"


class PluginData:
    """Typed per-session storage for plugins, addressed by :class:`Key` objects."""

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values: dict[Key[Any], object] = {}

    def get(self, key: Key[T]) -> T | None:
        """The value stored under ``key``, or ``None``."""
        return cast("T | None", self._values.get(key))

    def require(self, key: Key[T]) -> T:
        """The value stored under ``key``; ``KeyError`` when it is absent."""
        return cast(T, self._values[key])

    def set(self, key: Key[T], value: T) -> None:
        """Store ``value`` under ``key``."""
        self._values[key] = value

    def setdefault(self, key: Key[T], factory: Callable[[], T]) -> T:
        """The value under ``key``, storing ``factory()`` first when absent."""
        try:
            return cast(T, self._values[key])
        except KeyError:
            value = factory()
            self._values[key] = value
            return value

    def pop(self, key: Key[T]) -> T | None:
        """Remove and return the value under ``key`` (``None`` when absent)."""
        return cast("T | None", self._values.pop(key, None))

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def names(self) -> list[str]:
        """Names of the keys present (for the admin view)."""
        return [k.name for k in self._values]


class Session:
    """The state of one client connection, shared by every plugin.

    ``user_id`` is indexed by the :class:`ConnectionRegistry`; set it like a plain attribute.
    ``state`` is read-only: change it with :meth:`set_state`. Game data is in ``records``
    (read by anyone, written by its owner); ``plugin_data`` is each plugin's private store.
    """

    __slots__ = (
        "_outbox",
        "_service",
        "_state",
        "_user_id",
        "access_level",
        "bytes_in",
        "bytes_out",
        "connection_id",
        "created_at",
        "last_activity",
        "last_packet",
        "local_address",
        "packets_in",
        "packets_out",
        "peer_address",
        "plugin_data",
        "records",
        "session_id",
        "username",
    )

    def __init__(
        self,
        connection_id: int,
        *,
        peer_address: tuple[str, int] = ("", 0),
        local_address: tuple[str, int] = ("", 0),
        outbox: Outbox | None = None,
    ) -> None:
        self.connection_id = connection_id
        self.peer_address = peer_address
        self.local_address = local_address
        self._outbox = outbox
        self._service: ConnectionRegistry | None = None
        self._state = SessionState.CONNECTED
        self._user_id: int | None = None
        self.username: str | None = None
        self.access_level = 0
        self.session_id: int | None = None
        #: The game's records of this connection (:mod:`gateway_core.records`).
        self.records = Records()
        self.plugin_data = PluginData()
        #: Wall-clock time of the accept (seconds since the epoch), for display.
        self.created_at = time.time()
        #: Monotonic time (``time.monotonic()``) of the last received packet; drives the
        #: idle timeout.
        self.last_activity = time.monotonic()
        #: Traffic of this connection (the driver counts it; ``/admin/connections`` shows it):
        #: packets received and queued to the client, bytes read and written, and the type of
        #: the last packet received.
        self.packets_in = 0
        self.packets_out = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.last_packet: str | None = None

    def __repr__(self) -> str:
        return (
            f"<Session #{self.connection_id} {self._state.value} peer={self.peer_address} "
            f"user={self._user_id} records={self.records.names()}>"
        )

    # -- state -----------------------------------------------------------------------------

    @property
    def state(self) -> SessionState:
        """Where the connection is in the flow; change it with :meth:`set_state`."""
        return self._state

    @property
    def authenticated(self) -> bool:
        """True once a login or join succeeded on this connection."""
        return self._state in AUTHENTICATED_STATES

    async def set_state(self, new: SessionState) -> None:
        """Move to ``new`` and run every ``gateway_session_state_changed`` hook (awaited,
        exceptions isolated per plugin). No hook runs when the state does not change."""
        old = self._state
        if old is new:
            return
        self._state = new
        if self._service is not None:
            await self._service._state_changed(self, old, new)

    # -- indexed fields ----------------------------------------------------------------------

    @property
    def user_id(self) -> int | None:
        """The authenticated account id (indexed)."""
        return self._user_id

    @user_id.setter
    def user_id(self, value: int | None) -> None:
        if self._service is not None:
            self._service._move(self._service._by_user, self, self._user_id, value)
        self._user_id = value

    # -- output ----------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once the connection is closing or gone."""
        return self._outbox is None or self._outbox.closed

    def send(self, packet: OutPacket) -> None:
        """Queue ``packet`` to this client (never waits; a no-op once closed)."""
        if self._outbox is not None:
            self._outbox.send_packet(packet)

    def close(self, reason: str) -> None:
        """Flush what is queued and close this client's connection."""
        if self._outbox is not None:
            self._outbox.close(reason)


class ConnectionRegistry:
    """The live sessions of one gateway: lookups and sending to one or many.

    ``encode`` turns a packet into wire bytes for the gateway's role, cipher and profile
    (``gateway_core.protocol.connection.encode_packet`` bound to those settings);
    ``on_state_changed`` runs the lifecycle hooks. ``watchers`` maps a record key to the
    ``(plugin, callback)`` pairs told of each write of it (read at each write, so it may be
    filled later); ``on_watcher_error(plugin)`` counts a watcher that raised (logged here).
    """

    def __init__(
        self,
        *,
        encode: Callable[[OutPacket], bytes],
        on_state_changed: Callable[[Session, SessionState, SessionState], Awaitable[None]]
        | None = None,
        watchers: Mapping[RecordKey[Any], Sequence[tuple[str, RecordWatcher]]] | None = None,
        on_watcher_error: Callable[[str], None] | None = None,
    ) -> None:
        self._encode = encode
        self._on_state_changed = on_state_changed
        self._watchers: Mapping[RecordKey[Any], Sequence[tuple[str, RecordWatcher]]] = (
            watchers if watchers is not None else {}
        )
        self._on_watcher_error = on_watcher_error
        self._ids = itertools.count(1)
        self._by_id: dict[int, Session] = {}
        self._by_user: dict[object, list[Session]] = {}
        self._by_name: dict[object, list[Session]] = {}
        self._by_object: dict[object, list[Session]] = {}

    def next_connection_id(self) -> int:
        """A fresh connection id (unique within this gateway process)."""
        return next(self._ids)

    def add(self, session: Session) -> None:
        """Start tracking ``session`` (the server calls this on accept)."""
        if session._service is not None:
            raise ValueError("session already belongs to a connection registry")
        session._service = self
        session.records._on_change = lambda key, old, new: self._record_changed(
            session, key, old, new
        )
        self._by_id[session.connection_id] = session
        records = session.records
        for index, value in (
            (self._by_user, session.user_id),
            (self._by_name, _name_of(records.get(SELECTED_CHARACTER))),
            (self._by_object, _object_of(records.get(WORLD_PLACEMENT))),
        ):
            self._move(index, session, None, value)

    def remove(self, session: Session) -> None:
        """Stop tracking ``session`` (the server calls this when the connection is gone)."""
        if self._by_id.pop(session.connection_id, None) is None:
            return
        self._move(self._by_user, session, session.user_id, None)
        records = session.records
        self._move(self._by_name, session, _name_of(records.get(SELECTED_CHARACTER)), None)
        self._move(self._by_object, session, _object_of(records.get(WORLD_PLACEMENT)), None)
        session._service = None
        session.records._on_change = None

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Session]:
        return iter(list(self._by_id.values()))

    def get(self, connection_id: int) -> Session | None:
        """The session of connection ``connection_id``."""
        return self._by_id.get(connection_id)

    def by_user_id(self, user_id: int) -> list[Session]:
        """Every live connection of account ``user_id`` (one per leg), oldest first."""
        return list(self._by_user.get(user_id, ()))

    def by_character_name(self, name: str) -> Session | None:
        """The connection of the character called ``name`` (case-insensitive); when the
        character has several legs open, the one in the world wins, then the newest."""
        return _pick(self._by_name.get(name.casefold()))

    def by_world_object_id(self, object_id: int) -> Session | None:
        """The connection whose character has world object id ``object_id``."""
        return _pick(self._by_object.get(object_id))

    def in_state(self, state: SessionState) -> list[Session]:
        """Every session currently in ``state``."""
        return [s for s in self._by_id.values() if s.state is state]

    def send(self, session: Session, packet: OutPacket) -> None:
        """Queue ``packet`` to ``session`` (never waits)."""
        session.send(packet)

    def broadcast(self, sessions: Iterable[Session], packet: OutPacket) -> int:
        """Encode ``packet`` once and queue the same bytes to every open session; returns how
        many sessions it was queued to."""
        data: bytes | None = None
        name = _type_name(packet)
        sent = 0
        for session in sessions:
            outbox = session._outbox
            if outbox is None or outbox.closed:
                continue
            if data is None:
                data = self._encode(packet)
            outbox.send_encoded(data, name)
            sent += 1
        return sent

    # -- internals ---------------------------------------------------------------------------

    async def _state_changed(self, session: Session, old: SessionState, new: SessionState) -> None:
        if self._on_state_changed is not None:
            await self._on_state_changed(session, old, new)

    def _record_changed(
        self, session: Session, key: RecordKey[Any], old: object, new: object
    ) -> None:
        if key is SELECTED_CHARACTER:
            self._move(self._by_name, session, _name_of(old), _name_of(new))
        elif key is WORLD_PLACEMENT:
            self._move(self._by_object, session, _object_of(old), _object_of(new))
        watchers = self._watchers.get(key)
        if not watchers:
            return
        for plugin, callback in tuple(watchers):
            try:
                callback(session, old, new)
            except Exception:
                log.exception("plugin %s: watcher of record %s raised on connection #%d",
                              plugin, key.name, session.connection_id)
                if self._on_watcher_error is not None:
                    try:
                        self._on_watcher_error(plugin)
                    except Exception:  # a broken counter never breaks a write
                        log.exception("counting the error of plugin %s failed", plugin)

    @staticmethod
    def _move(
        index: dict[object, list[Session]], session: Session, old: object, new: object
    ) -> None:
        if old == new:
            return
        if old is not None:
            bucket = index.get(old)
            if bucket is not None:
                try:
                    bucket.remove(session)
                except ValueError:
                    pass
                if not bucket:
                    del index[old]
        if new is not None:
            index.setdefault(new, []).append(session)


def _name_of(record: Any) -> str | None:
    return record.name.casefold() if isinstance(record, SelectedCharacter) else None


def _object_of(record: Any) -> int | None:
    return record.object_id if isinstance(record, WorldPlacement) else None


def _pick(bucket: list[Session] | None) -> Session | None:
    if not bucket:
        return None
    for session in reversed(bucket):
        if session.state is SessionState.IN_WORLD:
            return session
    return bucket[-1]


def _type_name(packet: OutPacket) -> str:
    name = getattr(packet, "NAME", None)
    if isinstance(name, str):
        return name
    type_name = getattr(packet, "type_name", None)
    return type_name if isinstance(type_name, str) else f"0x{getattr(packet, 'type_value', 0):x}"
