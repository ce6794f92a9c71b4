"""The chat plugin: the reference chat service, its settings and client, and the delivery glue.

At start-up each gateway subscribes to the chat service (:class:`ChatDelivery`); a session
that enters the world is announced with its character, map and object id, and retracted when it
leaves the world or closes. Deliveries become packets sent to the hosted sessions. The packet
handlers (whisper, shout, party/clan/allied chat) are :mod:`gateway_chat.handlers`; they reach
this gateway's runtime through :func:`runtime_for`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from gateway_protos.v1 import chat_pb2, chat_pb2_grpc
from prometheus_client import Counter

from gateway_chat.delivery import ChatDelivery, delivery_packet
from gateway_chat.service import DEFAULT_QUEUE_LIMIT, ChatReferenceService
from gateway_core.hookspecs import hookimpl
from gateway_core.session import Session, SessionState
from gateway_core.validators import positive_int, positive_number

if TYPE_CHECKING:
    from gateway_core.grpc import ServiceConfig
    from gateway_core.plugins import (
        GrpcClientRegistrar,
        PacketRegistrar,
        ServiceRegistrar,
        SettingsRegistrar,
    )

log = logging.getLogger(__name__)

#: Backend service name of the chat contract.
SERVICE = "chat"


@hookimpl
def gateway_register_settings(register: SettingsRegistrar) -> None:
    """CHAT_SUBSCRIBER_QUEUE and CHAT_RECONNECT_MAX_DELAY."""
    register(
        "CHAT_SUBSCRIBER_QUEUE",
        DEFAULT_QUEUE_LIMIT,
        validate=positive_int,
        doc="Chat service: deliveries queued per gateway stream before that gateway is dropped.",
    )
    register(
        "CHAT_RECONNECT_MAX_DELAY",
        5.0,
        validate=positive_number,
        doc="Gateway: longest wait (s) between attempts to reopen the chat delivery stream.",
    )


def create_service(config: ServiceConfig) -> ChatReferenceService:
    """The reference chat service configured from the settings."""
    return ChatReferenceService(queue_limit=int(config.settings.CHAT_SUBSCRIBER_QUEUE))


@hookimpl
def gateway_register_services(register: ServiceRegistrar) -> None:
    """Provide the reference chat service."""
    register(SERVICE, create_service)


@hookimpl
def gateway_register_grpc_clients(register: GrpcClientRegistrar) -> None:
    """The chat client (``ctx.clients["chat"]``)."""
    register(SERVICE, chat_pb2_grpc.ChatStub)


class ChatRuntime:
    """One gateway's chat glue: its delivery stream and its hosted sessions.

    ``drops`` counts (by reason) the chat requests that were not carried out:
    ``gateway_chat_drops_total{reason}`` on the gateway's metrics registry.
    """

    def __init__(self, app: Any, delivery: ChatDelivery) -> None:
        self.app = app
        self.delivery = delivery
        self.sessions: dict[int, Session] = {}
        registry = getattr(getattr(app, "metrics", None), "registry", None)
        self.drops = Counter(
            "gateway_chat_drops",
            "Chat requests the chat plugin dropped, by reason (backend unavailable, no group, "
            "bad message).",
            ["reason"],
            registry=registry,
        )

    def drop(self, session: Session, reason: str, detail: str = "") -> None:
        """Count (and log) a chat request that was not carried out."""
        self.drops.labels(reason).inc()
        log.info(
            "chat: dropped a request of connection #%d (%s)%s",
            session.connection_id,
            reason,
            f": {detail}" if detail else "",
        )

    def deliver(self, message: chat_pb2.Delivery) -> None:
        """Send a delivery to the hosted sessions it lists (encoded once)."""
        sessions = [
            s
            for cid in message.recipient_character_ids
            if (s := self.sessions.get(cid)) is not None
        ]
        if sessions:
            self.app.connections.broadcast(sessions, delivery_packet(message))

    def owns(self, session: Session) -> bool:
        """True when ``session`` is hosted here or a connection of this runtime's gateway."""
        if session.character_id is not None and self.sessions.get(session.character_id) is session:
            return True
        return bool(self.app.connections.get(session.connection_id) is session)

    async def hosted(self, session: Session) -> None:
        """Announce a session that entered the world (again: its group ids are kept)."""
        if session.character_id is None or not session.character_name:
            return
        self.sessions[session.character_id] = session
        character = chat_pb2.HostedCharacter()
        known = self.delivery.hosted.get(session.character_id)
        if known is not None:
            character.CopyFrom(known)
        character.character_id = session.character_id
        character.name = session.character_name
        character.map_id = session.map_id or 0
        character.object_id = session.world_object_id or 0
        await self.delivery.host(character)

    async def refresh(self, session: Session) -> chat_pb2.HostedCharacter | None:
        """The hosted record of ``session``, announced again first when its map or world
        object id changed since (a teleport, or an object id the world service reassigned);
        None when the session is not hosted here."""
        character_id = session.character_id
        if character_id is None or self.sessions.get(character_id) is not session:
            return None
        known = self.delivery.hosted.get(character_id)
        if known is None or (known.map_id, known.object_id) != (
            session.map_id or 0,
            session.world_object_id or 0,
        ):
            await self.hosted(session)
            known = self.delivery.hosted.get(character_id)
        return known

    async def unhosted(self, session: Session) -> None:
        """Retract a session that left the world."""
        character_id = session.character_id
        if character_id is not None and self.sessions.get(character_id) is session:
            del self.sessions[character_id]
            await self.delivery.unhost(character_id)


#: One runtime per running gateway (tests may run several in one process).
_RUNTIMES: list[ChatRuntime] = []


def runtime_for(session: Session) -> ChatRuntime | None:
    """The runtime of the gateway owning ``session`` (for the packet handlers)."""
    return next((r for r in _RUNTIMES if r.owns(session)), None)


@hookimpl
def gateway_register_packets(register: PacketRegistrar) -> None:
    """Whisper, shout and group chat (:mod:`.handlers`)."""
    # Imported here: the handlers import this module for the runtime.
    from gateway_chat.handlers import register_packets

    register_packets(register)


@hookimpl
async def gateway_startup(app: Any) -> None:
    """Open the delivery stream of this gateway."""
    if app.clients is None or SERVICE not in app.clients:
        log.warning("chat: no chat client; chat deliveries are disabled")
        return
    runtime: ChatRuntime
    delivery = ChatDelivery(
        app.clients[SERVICE],
        app.gateway_id,
        lambda message: runtime.deliver(message),
        max_backoff=float(app.settings.CHAT_RECONNECT_MAX_DELAY),
        call_timeout=float(app.settings.GRPC_DEADLINE),
    )
    runtime = ChatRuntime(app, delivery)
    _RUNTIMES.append(runtime)
    delivery.start()


@hookimpl
async def gateway_shutdown(app: Any) -> None:
    """Close the delivery stream."""
    for runtime in [r for r in _RUNTIMES if r.app is app]:
        _RUNTIMES.remove(runtime)
        await runtime.delivery.aclose()


@hookimpl
async def gateway_session_state_changed(
    session: Session, old: SessionState, new: SessionState
) -> None:
    """Host a character entering the world; unhost one leaving it."""
    runtime = runtime_for(session)
    if runtime is None:
        return
    if new is SessionState.IN_WORLD:
        await runtime.hosted(session)
    elif old is SessionState.IN_WORLD:
        await runtime.unhosted(session)


@hookimpl
async def gateway_session_closed(session: Session) -> None:
    """Unhost the character of a closed connection."""
    runtime = runtime_for(session)
    if runtime is not None:
        await runtime.unhosted(session)
