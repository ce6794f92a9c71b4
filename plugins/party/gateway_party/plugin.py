"""The party plugin: the reference party service, its settings and clients, and the glue.

Each gateway keeps a :class:`~gateway_party.runtime.PartyRuntime` (its event stream and its
attached characters). The packet handlers (party requests, replies, rules, party chat) are
:mod:`gateway_party.handlers`; they get this gateway's runtime as ``ctx.runtime``. Parties live
in the party service (:mod:`gateway_party.service`), so they outlive a gateway restart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway_protos.v1 import party_pb2_grpc, world_pb2_grpc

from gateway_core.api import (
    CHARACTER_PROGRESS,
    WORLD_PLACEMENT,
    RuntimeRegistrar,
    hookimpl,
    positive_int,
)
from gateway_party.handlers import register_packets
from gateway_party.runtime import (
    DEFAULT_UPDATE_INTERVAL,
    SERVICE,
    WORLD_SERVICE,
    PartyRuntime,
    on_placement,
    on_progress,
)
from gateway_party.service import (
    DEFAULT_MAX_MEMBERS,
    DEFAULT_OFFLINE_GRACE,
    DEFAULT_QUEUE_LIMIT,
    PartyReferenceService,
)

if TYPE_CHECKING:
    from gateway_core.api import (
        GrpcClientRegistrar,
        PacketRegistrar,
        ServiceConfig,
        ServiceRegistrar,
        SettingsRegistrar,
    )


def _max_members(value: int) -> str | None:
    return None if 2 <= value <= 255 else f"{value} is not between 2 and 255"


def _seconds(value: float) -> str | None:
    return None if 0 <= value < float("inf") else f"{value} is not a number of seconds >= 0"


def _positive_seconds(value: float) -> str | None:
    return None if 0 < value < float("inf") else f"{value} is not a number of seconds > 0"


@hookimpl
def gateway_register_settings(register: SettingsRegistrar) -> None:
    """PARTY_MAX_MEMBERS, PARTY_OFFLINE_GRACE, PARTY_UPDATE_INTERVAL, PARTY_SUBSCRIBER_QUEUE
    and PARTY_RECONNECT_MAX_DELAY."""
    register(
        "PARTY_MAX_MEMBERS",
        DEFAULT_MAX_MEMBERS,
        validate=_max_members,
        doc="Party service: most members of one party, the leader included (2-255; the "
        "client's party window shows four others).",
    )
    register(
        "PARTY_OFFLINE_GRACE",
        DEFAULT_OFFLINE_GRACE,
        validate=_seconds,
        doc="Party service: seconds a member who left the world (disconnect, its gateway gone) "
        "stays in its party, shown offline, before it is removed; back within it, it is "
        "online again.",
    )
    register(
        "PARTY_UPDATE_INTERVAL",
        DEFAULT_UPDATE_INTERVAL,
        validate=_positive_seconds,
        doc="Gateway: least seconds between two HP/MP/level updates of one member to the party "
        "service (changes in between are coalesced into the next).",
    )
    register(
        "PARTY_SUBSCRIBER_QUEUE",
        DEFAULT_QUEUE_LIMIT,
        validate=positive_int,
        doc="Party service: events queued per gateway stream before that gateway is dropped.",
    )
    register(
        "PARTY_RECONNECT_MAX_DELAY",
        5.0,
        validate=_positive_seconds,
        doc="Gateway: longest wait (s) between attempts to reopen the party event stream.",
    )


def create_service(config: ServiceConfig) -> PartyReferenceService:
    """The reference party service configured from the settings."""
    settings = config.settings
    return PartyReferenceService(
        queue_limit=int(settings.PARTY_SUBSCRIBER_QUEUE),
        max_members=int(settings.PARTY_MAX_MEMBERS),
        offline_grace=float(settings.PARTY_OFFLINE_GRACE),
    )


@hookimpl
def gateway_register_services(register: ServiceRegistrar) -> None:
    """Provide the reference party service."""
    register(SERVICE, create_service)


@hookimpl
def gateway_register_grpc_clients(register: GrpcClientRegistrar) -> None:
    """The party client (``ctx.clients["party"]``) and the world client (object ids, and the
    parties the world shares kills with)."""
    register(SERVICE, party_pb2_grpc.PartyStub)
    register(WORLD_SERVICE, world_pb2_grpc.WorldStub)


@hookimpl
def gateway_register_runtime(register: RuntimeRegistrar) -> None:
    """One :class:`PartyRuntime` per gateway; members follow the placement and progress
    records."""
    register(PartyRuntime.create)
    register.watch(WORLD_PLACEMENT, on_placement)
    register.watch(CHARACTER_PROGRESS, on_progress)


@hookimpl
def gateway_register_packets(register: PacketRegistrar) -> None:
    """Party requests, replies, rules and party chat (:mod:`.handlers`)."""
    register_packets(register)
