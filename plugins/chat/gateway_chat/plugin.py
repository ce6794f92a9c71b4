"""The chat plugin: the reference chat service, its settings and client, and the delivery glue.

At start-up each gateway subscribes to the chat service (:class:`ChatDelivery`); a session
that enters the world is announced with its character, map and object id, and retracted when it
leaves the world or closes. Deliveries become packets sent to the hosted sessions. The packet
handlers (whisper, shout, party/clan/allied chat) are :mod:`gateway_chat.handlers`; they reach
this gateway's runtime through :data:`RUNTIMES`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from gateway_protos.v1 import chat_pb2, chat_pb2_grpc

from gateway_chat.delivery import ChatDelivery, delivery_packet
from gateway_chat.service import DEFAULT_QUEUE_LIMIT, ChatReferenceService
from gateway_core.hookspecs import hookimpl
from gateway_core.plugin_runtime import PluginRuntime, Runtimes
from gateway_core.session import Session, SessionState
from gateway_core.validators import positive_int, positive_number

if TYPE_CHECKING:
    from gateway_core.plugins import (
        GrpcClientRegistrar,
        PacketRegistrar,
        ServiceRegistrar,
        SettingsRegistrar,
    )
    from gateway_core.service_host import ServiceConfig

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


class ChatRuntime(PluginRuntime):
    """One gateway's chat glue: its delivery stream and its hosted sessions.

    ``drops`` counts (by reason) the chat requests that were not carried out:
    ``gateway_chat_drops_total{reason}`` on the gateway's metrics registry.
    """

    PLUGIN = "chat"
    DROPS_HELP = (
        "Chat requests the chat plugin dropped, by reason (backend unavailable, no group, "
        "bad message)."
    )

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.delivery = ChatDelivery(
            app.clients[SERVICE],
            app.gateway_id,
            self.deliver,
            max_backoff=float(app.settings.CHAT_RECONNECT_MAX_DELAY),
            call_timeout=float(app.settings.GRPC_DEADLINE),
        )

    def start(self) -> None:
        """Open the delivery stream."""
        self.delivery.start()

    async def aclose(self) -> None:
        """Close the delivery stream."""
        await self.delivery.aclose()

    def deliver(self, message: chat_pb2.Delivery) -> None:
        """Send a delivery to the hosted sessions it lists (encoded once)."""
        sessions = [
            s
            for cid in message.recipient_character_ids
            if (s := self.sessions.get(cid)) is not None
        ]
        if sessions:
            self.app.connections.broadcast(sessions, delivery_packet(message))

    async def entered(self, session: Session) -> None:
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
            await self.entered(session)
            known = self.delivery.hosted.get(character_id)
        return known

    async def left(self, session: Session) -> None:
        """Retract a session that left the world."""
        character_id = session.character_id
        if character_id is not None and self.sessions.get(character_id) is session:
            del self.sessions[character_id]
            await self.delivery.unhost(character_id)


#: This plugin's runtime of each running gateway (tests may run several in one process).
RUNTIMES = Runtimes[ChatRuntime]("chat", log=log)


@hookimpl
def gateway_register_packets(register: PacketRegistrar) -> None:
    """Whisper, shout and group chat (:mod:`.handlers`)."""
    # Imported here: the handlers import this module for the runtime.
    from gateway_chat.handlers import register_packets

    register_packets(register)


@hookimpl
async def gateway_startup(app: Any) -> None:
    """Open the delivery stream of this gateway."""
    RUNTIMES.start(app, SERVICE, ChatRuntime, disabled="chat deliveries are disabled")


@hookimpl
async def gateway_shutdown(app: Any) -> None:
    """Close the delivery stream."""
    await RUNTIMES.stop(app)


@hookimpl
async def gateway_session_state_changed(
    session: Session, old: SessionState, new: SessionState
) -> None:
    """Host a character entering the world; unhost one leaving it."""
    await RUNTIMES.session_state_changed(session, old, new)


@hookimpl
async def gateway_session_closed(session: Session) -> None:
    """Unhost the character of a closed connection."""
    await RUNTIMES.session_closed(session)
