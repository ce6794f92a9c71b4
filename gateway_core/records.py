"""Game data of a session: typed records, each written by the one plugin that owns it.

Strategy: a :class:`~gateway_core.session.Session` keeps what its connection owns (ids, state,
peer, account); what the game puts on it (the selected character, where it stands on a map,
and what later domains add) is a *record*: an immutable value under a :class:`RecordKey`.
Anyone reads a record (``session.records.get(SELECTED_CHARACTER)``); only its owner writes it.
A plugin claims the keys it writes at start-up (``register.claim(KEY)`` in
``gateway_register_runtime``, a second claimant fails start-up) and writes through the
:class:`RecordWriter` of its name: ``ctx.records`` in a handler,
``gateway.record_writer(plugin)`` in a runtime. A write by anyone else raises
:class:`RecordOwnershipError`, so two plugins can never fight over one value unnoticed.

Reading is free, and so is being told: ``register.watch(KEY, callback)`` (also in
``gateway_register_runtime``, any plugin, any key) has the connection registry call
``callback(session, old, new)`` (a :data:`RecordWatcher`) after every write of ``KEY`` on any
session of the gateway, ``old`` / ``new`` being the values before and after (``None`` when
absent). A watcher is a plain function run inside the write, so it must not block (it starts
a task for slow work); one that raises is logged with its plugin's name and counted as a
handler error, and neither the write nor the other watchers notice.

Records are frozen values: a reader can keep one without seeing it change under it, and a
write is one assignment (the connection registry re-indexes the keys it indexes on it).
This module sits below the session layer and imports nothing of the gateway.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeAlias, TypeVar, cast

__all__ = [
    "CHARACTER_PROGRESS",
    "SELECTED_CHARACTER",
    "WORLD_PLACEMENT",
    "CharacterProgress",
    "Position",
    "RecordKey",
    "RecordOwnershipError",
    "RecordWatcher",
    "RecordWriter",
    "Records",
    "SelectedCharacter",
    "WorldPlacement",
]

T = TypeVar("T")

#: A watcher of a session record: ``callback(session, old, new)``, called after every write of
#: the key it watches (``old`` / ``new``: the values, ``None`` when absent).
RecordWatcher: TypeAlias = Callable[[Any, Any, Any], None]


class RecordKey(Generic[T]):
    """The typed key of one kind of session record.

    Declare it once at module level (``PARTY = RecordKey[PartyView]("party.member")``); keys
    compare by identity, the name is for messages and the admin view. The core declares the
    records several built-in plugins share (:data:`SELECTED_CHARACTER`,
    :data:`WORLD_PLACEMENT`), since plugins never import each other.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"RecordKey({self.name!r})"


class RecordOwnershipError(RuntimeError):
    """A plugin wrote a record it does not own (or that nobody claimed)."""


class Records:
    """The records of one session, read-only to plugins (write with a :class:`RecordWriter`).

    ``on_change(key, old, new)`` is told of every write (the connection registry keeps its
    name and object-id indexes with it).
    """

    __slots__ = ("_on_change", "_values")

    def __init__(self) -> None:
        self._values: dict[RecordKey[Any], object] = {}
        self._on_change: Callable[[RecordKey[Any], object, object], None] | None = None

    def get(self, key: RecordKey[T]) -> T | None:
        """The record under ``key``, or ``None``."""
        return cast("T | None", self._values.get(key))

    def require(self, key: RecordKey[T]) -> T:
        """The record under ``key``; ``KeyError`` naming it when absent."""
        try:
            return cast(T, self._values[key])
        except KeyError:
            raise KeyError(key.name) from None

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def names(self) -> list[str]:
        """Names of the records present (for the admin view)."""
        return [k.name for k in self._values]

    def _write(self, key: RecordKey[Any], value: object) -> None:
        old = self._values.get(key)
        if value is None:
            self._values.pop(key, None)
        else:
            self._values[key] = value
        if self._on_change is not None and old is not value:
            self._on_change(key, old, value)


class _HasRecords(Protocol):
    """What a writer needs of a session (its :class:`Records`)."""

    @property
    def records(self) -> Records: ...


class RecordWriter:
    """Writes the records ``plugin`` claimed, on any session.

    ``owners`` maps each claimed key to its plugin (filled at start-up, read at each write).
    """

    __slots__ = ("_owners", "plugin")

    def __init__(self, plugin: str, owners: Mapping[RecordKey[Any], str]) -> None:
        self.plugin = plugin
        self._owners = owners

    def set(self, session: _HasRecords, key: RecordKey[T], value: T) -> None:
        """Store ``value`` as the ``key`` record of ``session``."""
        self._check(key)
        session.records._write(key, value)

    def clear(self, session: _HasRecords, key: RecordKey[Any]) -> None:
        """Remove the ``key`` record of ``session`` (nothing when absent)."""
        self._check(key)
        session.records._write(key, None)

    def _check(self, key: RecordKey[Any]) -> None:
        owner = self._owners.get(key)
        if owner != self.plugin:
            holder = f"owned by plugin {owner!r}" if owner else "claimed by no plugin"
            raise RecordOwnershipError(
                f"plugin {self.plugin!r} wrote record {key.name!r}, {holder}"
            )


# --- the records the built-in plugins share -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Position:
    """A point on a map (game units)."""

    x: float = 0.0
    y: float = 0.0
    z: float = 0.0


@dataclass(frozen=True, slots=True)
class SelectedCharacter:
    """The character a world connection plays (written by the character plugin on the join).

    ``map_id`` and ``position`` are where the character was stored, so where it enters the
    world; where it stands now is the :data:`WORLD_PLACEMENT` record. ``name`` is indexed by
    the connection registry (case-insensitive). ``channel_id`` is the channel picked at server
    select: each channel has its own instance of every map, so it is part of where the
    character is (players of one map on different channels never see each other).
    """

    character_id: int
    name: str
    map_id: int
    position: Position
    channel_id: int = 1


@dataclass(frozen=True, slots=True)
class WorldPlacement:
    """Where a character is in the world (written by the world plugin).

    ``object_id`` is its object id on the map, indexed by the connection registry; ``None``
    once it has left the map, when the record still says where it was last (what is saved).
    ``world_address`` is the address of the world service process (the shard, with the world
    sharded by map) the character is on: the plugins making world calls about it send them
    there (``client_at(ctx.clients, "world", placement.world_address)``); empty with one
    world service.
    """

    map_id: int
    position: Position
    object_id: int | None = None
    world_address: str = ""


@dataclass(frozen=True, slots=True)
class CharacterProgress:
    """What the world decided about a character's growth and vitals (written by the world
    plugin from the world service's ``progress`` events; the character plugin stores it).

    ``stats`` are the base stats in the client's order: strength, dexterity, intelligence,
    concentration, charm, sense. ``skills`` are the skill ids of the character's skill slots
    (0 = empty). ``max_hp`` / ``max_mp`` are derived by the world (for party views and the
    console); they are not stored.
    """

    level: int
    xp: int
    hp: int
    mp: int
    stats: tuple[int, int, int, int, int, int]
    stat_points: int
    skill_points: int
    penalty_xp: int
    skills: tuple[int, ...]
    max_hp: int = 0
    max_mp: int = 0


#: The character played on a connection (owner: the character plugin).
SELECTED_CHARACTER = RecordKey[SelectedCharacter]("character.selected")
#: Where the character of a connection is on its map (owner: the world plugin).
WORLD_PLACEMENT = RecordKey[WorldPlacement]("world.placement")
#: Level, XP, vitals, stats, points and skills as the world has them (owner: the world plugin).
CHARACTER_PROGRESS = RecordKey[CharacterProgress]("world.progress")
