"""The world plugin: the reference world service, its settings and client, and the link glue.

Each gateway keeps a :class:`~gateway_world.runtime.WorldRuntime` (its world stream and the
sessions of its characters). Movement and chat requests come from the packet handlers
(:mod:`gateway_world.handlers`), which get this gateway's runtime as ``ctx.runtime``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from gateway_protos.v1 import world_pb2_grpc

from gateway_core.api import (
    CHARACTER_PROGRESS,
    WORLD_PLACEMENT,
    RuntimeRegistrar,
    hookimpl,
    load_content,
    positive_int,
    positive_number,
)
from gateway_world.gm import register_gm_commands
from gateway_world.handlers import register_packets
from gateway_world.runtime import SERVICE, WorldRuntime
from gateway_world.service import (
    DEFAULT_FLUSH_INTERVAL,
    DEFAULT_POSITION_TOLERANCE,
    DEFAULT_QUEUE_LIMIT,
    DEFAULT_TICK_INTERVAL,
    DEFAULT_VIEW_RADIUS,
    DEFAULT_WANDER_INTERVAL,
    WorldReferenceService,
)
from gateway_world.shards import parse_maps, validate_maps, validate_shards

if TYPE_CHECKING:
    from gateway_core.api import (
        ChatCommandRegistrar,
        GrpcClientRegistrar,
        PacketRegistrar,
        ServiceConfig,
        ServiceRegistrar,
        SettingsRegistrar,
    )

log = logging.getLogger(__name__)


def _seed(value: int) -> str | None:
    return None if 0 <= value <= 2**63 - 1 else f"{value} is not a seed (0 to 2**63-1)"


@hookimpl
def gateway_register_settings(register: SettingsRegistrar) -> None:
    """WORLD_VIEW_RADIUS, WORLD_SUBSCRIBER_QUEUE, WORLD_TICK_INTERVAL, WORLD_FLUSH_INTERVAL,
    WORLD_RECONNECT_MAX_DELAY, WORLD_IN_PROCESS, WORLD_CONTENT, WORLD_POSITION_TOLERANCE,
    WORLD_WANDER_INTERVAL, WORLD_RANDOM_SEED, WORLD_REVIVE_IN_PLACE, WORLD_SHARDS,
    WORLD_SERVICE_MAPS."""
    register(
        "WORLD_VIEW_RADIUS",
        DEFAULT_VIEW_RADIUS,
        validate=positive_number,
        doc="World service: distance (map units) within which players see each other; normal "
        "chat and movement reach the players within it.",
    )
    register(
        "WORLD_SUBSCRIBER_QUEUE",
        DEFAULT_QUEUE_LIMIT,
        validate=positive_int,
        doc="World service: events queued per gateway stream; from half of it that gateway's "
        "requests are paced, beyond it events are dropped (counted) and the affected views "
        "rebuilt once the queue drains.",
    )
    register(
        "WORLD_TICK_INTERVAL",
        DEFAULT_TICK_INTERVAL,
        validate=positive_number,
        doc="World service: seconds between updates of walking players' positions.",
    )
    register(
        "WORLD_FLUSH_INTERVAL",
        DEFAULT_FLUSH_INTERVAL,
        validate=positive_number,
        doc="World service: the delivery tick, seconds a gateway's events are gathered into one "
        "stream message under load (after a quiet tick the first events go at once).",
    )
    register(
        "WORLD_RECONNECT_MAX_DELAY",
        5.0,
        validate=positive_number,
        doc="Gateway: longest wait (s) between attempts to reopen the world stream.",
    )
    register(
        "WORLD_IN_PROCESS",
        True,
        validate=_boolean,
        doc="Gateway: with the embedded world service (no WORLD_SERVICE_ADDR), the world stream "
        "is a call into it in this process, without serialization or gRPC; false: through gRPC "
        "on loopback, as to a remote service.",
    )
    register(
        "WORLD_CONTENT",
        "",
        doc="World service: the content pack (a directory holding pack.toml, or one TOML file) "
        "whose maps, warp gates, NPCs and monster spawns the maps hold; empty: the built-in "
        "pack. A pack that does not load fails start-up with the loader's message.",
    )
    register(
        "WORLD_POSITION_TOLERANCE",
        DEFAULT_POSITION_TOLERANCE,
        validate=positive_number,
        doc="World service: farthest (map units) a client's stop point may be from where the "
        "service has the character (walked on at its speed); beyond it the client is corrected.",
    )
    register(
        "WORLD_WANDER_INTERVAL",
        DEFAULT_WANDER_INTERVAL,
        validate=positive_number,
        doc="World service: mean seconds a monster stands before it walks to another point of "
        "its spawn circle (each pause is 0.5 to 1.5 times this).",
    )
    register(
        "WORLD_RANDOM_SEED",
        0,
        validate=_seed,
        doc="World service: seed of the monster wander and respawn points (0: unseeded).",
    )
    register(
        "WORLD_REVIVE_IN_PLACE",
        False,
        validate=_boolean,
        doc="World service: a dead character may revive where it fell (PAKCS_REVIVE_REQ type "
        "4); otherwise that request revives at the map's revive point.",
    )
    register(
        "WORLD_SHARDS",
        "",
        validate=validate_shards,
        doc="Gateway: the world sharded by map, MAPS=ADDRESS;MAPS=ADDRESS... (MAPS: map ids "
        "and ranges, e.g. 1-20,22=10.0.0.5:50061;21,23-99=10.0.0.6:50061): one world stream "
        "per shard, each character's world traffic to the shard of its map, a warp to another "
        "shard's map hands the character over. Empty: one world service (WORLD_SERVICE_ADDR "
        "or the embedded one).",
    )
    register(
        "WORLD_SERVICE_MAPS",
        "",
        validate=validate_maps,
        doc="World service: the maps this world service owns when the world is sharded (same "
        "MAPS syntax as WORLD_SHARDS); entering another map is refused and a warp to one is "
        "answered with its destination (map_elsewhere). Empty: every map.",
    )


def _boolean(value: object) -> str | None:
    return None if isinstance(value, bool) else f"{value!r} is not true or false"


def create_service(config: ServiceConfig) -> WorldReferenceService:
    """The reference world service configured from the settings (the content pack is loaded
    here, so a broken one fails start-up)."""
    settings = config.settings
    content = load_content(str(settings.WORLD_CONTENT))
    log.info("world: content pack %s %s", content.name, content.version)
    maps = str(settings.WORLD_SERVICE_MAPS).strip()
    if maps:
        log.info("world: a shard owning maps %s (WORLD_SERVICE_MAPS)", maps)
    return WorldReferenceService(
        view_radius=float(settings.WORLD_VIEW_RADIUS),
        queue_limit=int(settings.WORLD_SUBSCRIBER_QUEUE),
        tick_interval=float(settings.WORLD_TICK_INTERVAL),
        flush_interval=float(settings.WORLD_FLUSH_INTERVAL),
        content=content,
        position_tolerance=float(settings.WORLD_POSITION_TOLERANCE),
        wander_interval=float(settings.WORLD_WANDER_INTERVAL),
        seed=int(settings.WORLD_RANDOM_SEED),
        revive_in_place=bool(settings.WORLD_REVIVE_IN_PLACE),
        maps=parse_maps(maps) if maps else None,
    )


@hookimpl
def gateway_register_services(register: ServiceRegistrar) -> None:
    """Provide the reference world service."""
    register(SERVICE, create_service)


@hookimpl
def gateway_register_grpc_clients(register: GrpcClientRegistrar) -> None:
    """The world client (``ctx.clients["world"]``)."""
    register(SERVICE, world_pb2_grpc.WorldStub)


@hookimpl
def gateway_register_runtime(register: RuntimeRegistrar) -> None:
    """One :class:`WorldRuntime` per gateway: its world stream and its characters; the world
    plugin is the one writer of the world-placement and character-progress records."""
    register(WorldRuntime.create)
    register.claim(WORLD_PLACEMENT)
    register.claim(CHARACTER_PROGRESS)


@hookimpl
def gateway_register_packets(register: PacketRegistrar) -> None:
    """Map entry, movement, normal chat, animations and teleports (:mod:`.handlers`)."""
    register_packets(register)


@hookimpl
def gateway_register_chat_commands(register: ChatCommandRegistrar) -> None:
    """GM commands: /tp, /goto, /summon, /where (:mod:`.gm`)."""
    register_gm_commands(register)
