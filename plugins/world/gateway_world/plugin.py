"""The world plugin: the reference world service, its settings and client, and the link glue.

At start-up each gateway opens its one ``Connect`` stream to the world service
(:class:`WorldLink`). Events for its characters become packets sent to their sessions; a
session that leaves the world or closes is taken off its map. Entering maps, movement and chat
requests come from the packet handlers (a later issue), through :func:`runtime_for`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from gateway_protos.v1 import world_pb2, world_pb2_grpc

from gateway_core.hookspecs import hookimpl
from gateway_core.protocol.types import NumberingProfile, get_profile
from gateway_core.session import Session, SessionState
from gateway_world.delivery import WorldLink, event_packet
from gateway_world.service import (
    DEFAULT_QUEUE_LIMIT,
    DEFAULT_TICK_INTERVAL,
    DEFAULT_VIEW_RADIUS,
    WorldReferenceService,
)

if TYPE_CHECKING:
    from gateway_core.grpc import ServiceConfig
    from gateway_core.plugins import GrpcClientRegistrar, ServiceRegistrar, SettingsRegistrar

log = logging.getLogger(__name__)

#: Backend service name of the world contract.
SERVICE = "world"


def _positive_int(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return "must be an integer of at least 1"
    return None


def _positive_number(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        return "must be a number above 0"
    return None


@hookimpl
def gateway_register_settings(register: SettingsRegistrar) -> None:
    """WORLD_VIEW_RADIUS, WORLD_SUBSCRIBER_QUEUE, WORLD_TICK_INTERVAL, WORLD_RECONNECT_MAX_DELAY."""
    register(
        "WORLD_VIEW_RADIUS",
        DEFAULT_VIEW_RADIUS,
        validate=_positive_number,
        doc="World service: distance (map units) within which players see each other; normal "
        "chat and movement reach the players within it.",
    )
    register(
        "WORLD_SUBSCRIBER_QUEUE",
        DEFAULT_QUEUE_LIMIT,
        validate=_positive_int,
        doc="World service: events queued per gateway stream before that gateway is dropped.",
    )
    register(
        "WORLD_TICK_INTERVAL",
        DEFAULT_TICK_INTERVAL,
        validate=_positive_number,
        doc="World service: seconds between updates of walking players' positions.",
    )
    register(
        "WORLD_RECONNECT_MAX_DELAY",
        5.0,
        validate=_positive_number,
        doc="Gateway: longest wait (s) between attempts to reopen the world stream.",
    )


def create_service(config: ServiceConfig) -> WorldReferenceService:
    """The reference world service configured from the settings."""
    settings = config.settings
    return WorldReferenceService(
        view_radius=float(settings.WORLD_VIEW_RADIUS),
        queue_limit=int(settings.WORLD_SUBSCRIBER_QUEUE),
        tick_interval=float(settings.WORLD_TICK_INTERVAL),
    )


@hookimpl
def gateway_register_services(register: ServiceRegistrar) -> None:
    """Provide the reference world service."""
    register(SERVICE, create_service)


@hookimpl
def gateway_register_grpc_clients(register: GrpcClientRegistrar) -> None:
    """The world client (``ctx.clients["world"]``)."""
    register(SERVICE, world_pb2_grpc.WorldStub)


class WorldRuntime:
    """One gateway's world glue: its stream and the sessions of its characters."""

    def __init__(self, app: Any, profile: NumberingProfile) -> None:
        self.app = app
        self.profile = profile
        self.sessions: dict[int, Session] = {}
        self.link: WorldLink | None = None

    def deliver(self, event: world_pb2.WorldEvent) -> None:
        """Send an event's packet to the sessions it lists (encoded once)."""
        if event.HasField("rejected"):
            log.info("world: request rejected: %s", event.rejected.message)
            return
        sessions = [
            s for cid in event.recipient_character_ids if (s := self.sessions.get(cid)) is not None
        ]
        if not sessions:
            return
        packet = event_packet(event, self.profile)
        if packet is not None:
            self.app.connections.broadcast(sessions, packet)

    def owns(self, session: Session) -> bool:
        """True when ``session`` is tracked here or a connection of this runtime's gateway."""
        if session.character_id is not None and self.sessions.get(session.character_id) is session:
            return True
        return bool(self.app.connections.get(session.connection_id) is session)

    async def left(self, session: Session) -> None:
        """Take the character of a session that left the world off its map."""
        character_id = session.character_id
        if character_id is not None and self.sessions.get(character_id) is session:
            del self.sessions[character_id]
            if self.link is not None:
                await self.link.leave(character_id)


#: One runtime per running gateway (tests may run several in one process).
_RUNTIMES: list[WorldRuntime] = []


def runtime_for(session: Session) -> WorldRuntime | None:
    """The runtime of the gateway owning ``session`` (for the packet handlers)."""
    return next((r for r in _RUNTIMES if r.owns(session)), None)


@hookimpl
async def gateway_startup(app: Any) -> None:
    """Open this gateway's world stream."""
    if app.clients is None or SERVICE not in app.clients:
        log.warning("world: no world client; world events are disabled")
        return
    runtime = WorldRuntime(app, get_profile(app.settings.PACKET_PROFILE))
    runtime.link = WorldLink(
        app.clients[SERVICE],
        app.gateway_id,
        runtime.deliver,
        max_backoff=float(app.settings.WORLD_RECONNECT_MAX_DELAY),
        request_timeout=float(app.settings.GRPC_DEADLINE),
    )
    _RUNTIMES.append(runtime)
    runtime.link.start()


@hookimpl
async def gateway_shutdown(app: Any) -> None:
    """Close the world stream (the service takes this gateway's characters off their maps)."""
    for runtime in [r for r in _RUNTIMES if r.app is app]:
        _RUNTIMES.remove(runtime)
        if runtime.link is not None:
            await runtime.link.aclose()


@hookimpl
async def gateway_session_state_changed(
    session: Session, old: SessionState, new: SessionState
) -> None:
    """Track sessions entering the world; take those leaving it off their map."""
    runtime = runtime_for(session)
    if runtime is None:
        return
    if new is SessionState.IN_WORLD and session.character_id is not None:
        runtime.sessions[session.character_id] = session
    elif old is SessionState.IN_WORLD:
        await runtime.left(session)


@hookimpl
async def gateway_session_closed(session: Session) -> None:
    """Take the character of a closed connection off its map."""
    runtime = runtime_for(session)
    if runtime is not None:
        await runtime.left(session)
