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
    WORLD_PLACEMENT,
    RuntimeRegistrar,
    hookimpl,
    positive_int,
    positive_number,
)
from gateway_world.handlers import register_packets
from gateway_world.runtime import SERVICE, WorldRuntime
from gateway_world.service import (
    DEFAULT_FLUSH_INTERVAL,
    DEFAULT_QUEUE_LIMIT,
    DEFAULT_TICK_INTERVAL,
    DEFAULT_VIEW_RADIUS,
    WorldReferenceService,
)

if TYPE_CHECKING:
    from gateway_core.api import (
        GrpcClientRegistrar,
        PacketRegistrar,
        ServiceConfig,
        ServiceRegistrar,
        SettingsRegistrar,
    )

log = logging.getLogger(__name__)

@hookimpl
def gateway_register_settings(register: SettingsRegistrar) -> None:
    """WORLD_VIEW_RADIUS, WORLD_SUBSCRIBER_QUEUE, WORLD_TICK_INTERVAL, WORLD_FLUSH_INTERVAL,
    WORLD_RECONNECT_MAX_DELAY."""
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


def create_service(config: ServiceConfig) -> WorldReferenceService:
    """The reference world service configured from the settings."""
    settings = config.settings
    return WorldReferenceService(
        view_radius=float(settings.WORLD_VIEW_RADIUS),
        queue_limit=int(settings.WORLD_SUBSCRIBER_QUEUE),
        tick_interval=float(settings.WORLD_TICK_INTERVAL),
        flush_interval=float(settings.WORLD_FLUSH_INTERVAL),
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
    plugin is the one writer of the world-placement record."""
    register(WorldRuntime.create)
    register.claim(WORLD_PLACEMENT)


@hookimpl
def gateway_register_packets(register: PacketRegistrar) -> None:
    """Map entry, movement, normal chat, animations and teleports (:mod:`.handlers`)."""
    register_packets(register)
