"""The chat plugin's runtime on one gateway: its delivery stream and its hosted sessions.

At start-up each gateway subscribes to the chat service (:class:`ChatDelivery`); a session
that enters the world is announced with its character, map and object id, and retracted when it
leaves the world or closes. Deliveries become packets sent to the hosted sessions.
"""

from __future__ import annotations

import logging

from gateway_protos.v1 import chat_pb2

from gateway_chat.delivery import ChatDelivery, delivery_packet
from gateway_core.api import (
    SELECTED_CHARACTER,
    WORLD_PLACEMENT,
    GatewayView,
    InWorldRuntime,
    Session,
    server_message,
)

log = logging.getLogger(__name__)

#: Backend service name of the chat contract.
SERVICE = "chat"


class ChatRuntime(InWorldRuntime):
    """One gateway's chat glue: its delivery stream and its hosted sessions.

    ``drops`` counts (by reason) the chat requests that were not carried out:
    ``gateway_chat_drops_total{reason}`` on the gateway's metrics registry.
    """

    PLUGIN = "chat"
    SERVICE = SERVICE
    WITHOUT_SERVICE = "chat deliveries are disabled"
    DROPS_HELP = (
        "Chat requests the chat plugin dropped, by reason (backend unavailable, no group, "
        "bad message)."
    )

    def __init__(self, app: GatewayView) -> None:
        super().__init__(app)
        self.delivery = ChatDelivery(
            app.clients[SERVICE],
            app.gateway_id,
            self.deliver,
            max_backoff=float(app.settings.CHAT_RECONNECT_MAX_DELAY),
            call_timeout=app.settings.call_deadline(SERVICE),
            on_kick=self.kick,
        )
        # At a shutdown the stream ends with the gateway (the service then forgets all it
        # hosted): one Unhost per player, in order through one lock, would hold the close of
        # thousands of connections (and their saves) for seconds.
        self.delivery.stopping = lambda: app.closing

    def start(self) -> None:
        """Open the delivery stream."""
        self.delivery.start()

    async def stop(self) -> None:
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

    def kick(self, kick: chat_pb2.Kick) -> None:
        """Close the connection of a hosted character (``/kick``, ``gateway kick``): it is
        told why first, then the connection closes once that is written."""
        session = self.sessions.get(kick.character_id)
        if session is None:
            log.info("chat: kick of character %d, not hosted here", kick.character_id)
            return
        reason = kick.reason or "kicked"
        log.info("chat: kicking connection #%d: %s", session.connection_id, reason)
        session.send(server_message(f"You were disconnected: {reason}"))
        session.close(f"kicked: {reason}")

    async def entered(self, session: Session) -> None:
        """Announce a session that entered the world (again: its group ids are kept). Its map
        and object id are the world placement's; before the world plugin placed it, the map
        it entered on and no object id (:meth:`refresh` announces the change later)."""
        selected = session.records.get(SELECTED_CHARACTER)
        if selected is None or not selected.name:
            return
        self.sessions[selected.character_id] = session
        character = chat_pb2.HostedCharacter()
        known = self.delivery.hosted.get(selected.character_id)
        if known is not None:
            character.CopyFrom(known)
        character.character_id = selected.character_id
        character.name = selected.name
        character.map_id, character.object_id = _where(session)
        await self.delivery.host(character)

    async def refresh(self, session: Session) -> chat_pb2.HostedCharacter | None:
        """The hosted record of ``session``, announced again first when its map or world
        object id changed since (a teleport, or an object id the world service reassigned);
        None when the session is not hosted here."""
        selected = session.records.get(SELECTED_CHARACTER)
        if selected is None or self.sessions.get(selected.character_id) is not session:
            return None
        character_id = selected.character_id
        known = self.delivery.hosted.get(character_id)
        if known is None or (known.map_id, known.object_id) != _where(session):
            await self.entered(session)
            known = self.delivery.hosted.get(character_id)
        return known

    async def left(self, session: Session) -> None:
        """Retract a session that left the world."""
        selected = session.records.get(SELECTED_CHARACTER)
        if selected is not None and self.sessions.get(selected.character_id) is session:
            del self.sessions[selected.character_id]
            await self.delivery.unhost(selected.character_id)


def _where(session: Session) -> tuple[int, int]:
    """(map id, object id) of a session's character: its world placement, else the map it
    entered on and object id 0."""
    placement = session.records.get(WORLD_PLACEMENT)
    if placement is not None:
        return placement.map_id, placement.object_id or 0
    selected = session.records.get(SELECTED_CHARACTER)
    return (selected.map_id if selected is not None else 0), 0
