"""The reference chat service: a grpc.aio servicer over the in-memory :class:`ChatRegistry`.

Chat keeps no storage: deliveries are live, and a gateway re-announces its characters when it
reconnects.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import grpc
from gateway_protos.v1 import chat_pb2, chat_pb2_grpc

from gateway_chat.service.limits import (
    MAX_MESSAGE_BYTES,
    check_message,
    check_name,
    check_u16,
)
from gateway_chat.service.registry import ChatRegistry
from gateway_core.api import (
    ServiceError,
    abort,
    check_character_id,
    check_gateway_id,
    check_text,
)

if TYPE_CHECKING:
    from grpc.aio import ServicerContext

    _Context = ServicerContext[Any, Any]

log = logging.getLogger(__name__)

#: Default bound of each gateway's delivery queue (CHAT_SUBSCRIBER_QUEUE).
DEFAULT_QUEUE_LIMIT = 1024


class ChatServicer(chat_pb2_grpc.ChatServicer):
    """Implements every RPC of ``rose.gateway.v1.Chat``; see chat.proto for the contract."""

    def __init__(self, registry: ChatRegistry) -> None:
        self.registry = registry

    async def Subscribe(
        self, request: chat_pb2.SubscribeRequest, context: _Context
    ) -> AsyncIterator[chat_pb2.ChatEvent]:
        """Register the gateway's stream and yield its deliveries until it ends."""
        try:
            gateway_id = check_gateway_id(request.gateway_id)
        except ServiceError as exc:
            await abort(context, exc)
        subscriber = self.registry.subscribe(gateway_id)
        log.info("chat: gateway %r subscribed", gateway_id)
        try:
            async for event in subscriber.drain(context, log, "chat"):
                yield event
        finally:
            # Cancelled (the gateway went away) or ended: either way its characters go.
            self.registry.release(subscriber)

    async def Host(self, request: chat_pb2.HostRequest, context: _Context) -> chat_pb2.HostReply:
        """Announce or update a hosted character."""
        try:
            gateway_id = check_gateway_id(request.gateway_id)
            if not request.HasField("character"):
                raise ServiceError(grpc.StatusCode.INVALID_ARGUMENT, "character is missing")
            character = request.character
            check_character_id(character.character_id)
            check_name(character.name)
            check_u16(character.map_id, "map_id")
            check_u16(character.object_id, "object_id")
            moved = self.registry.host(gateway_id, character)
        except ServiceError as exc:
            await abort(context, exc)
        return chat_pb2.HostReply(moved=moved)

    async def Unhost(
        self, request: chat_pb2.UnhostRequest, context: _Context
    ) -> chat_pb2.UnhostReply:
        """Retract a hosted character."""
        try:
            gateway_id = check_gateway_id(request.gateway_id)
            character_id = check_character_id(request.character_id)
        except ServiceError as exc:
            await abort(context, exc)
        return chat_pb2.UnhostReply(removed=self.registry.unhost(gateway_id, character_id))

    async def Whisper(
        self, request: chat_pb2.WhisperRequest, context: _Context
    ) -> chat_pb2.WhisperReply:
        """Deliver to the named character, or report it not found."""
        try:
            check_character_id(request.sender_character_id, "sender_character_id")
            target_name = check_name(request.target_name, "target_name")
            message = check_message(request.message)
            sender = self.registry.sender(request.sender_character_id)
        except ServiceError as exc:
            await abort(context, exc)
        target = self.registry.find_by_name(target_name)
        if target is None:
            return chat_pb2.WhisperReply(result=chat_pb2.WHISPER_RESULT_TARGET_NOT_FOUND)
        reached = self.registry.deliver(
            [target.character_id],
            kind=chat_pb2.CHAT_KIND_WHISPER,
            message=message,
            sender_name=sender.name,
            sender=sender,
        )
        if not reached:
            # The target's gateway was just dropped for being too slow: it is offline now.
            return chat_pb2.WhisperReply(result=chat_pb2.WHISPER_RESULT_TARGET_NOT_FOUND)
        return chat_pb2.WhisperReply(
            result=chat_pb2.WHISPER_RESULT_DELIVERED, target_name=target.name
        )

    async def Shout(self, request: chat_pb2.ShoutRequest, context: _Context) -> chat_pb2.SendReply:
        """Deliver to everyone on the sender's map."""
        try:
            check_character_id(request.sender_character_id, "sender_character_id")
            message = check_message(request.message)
            sender = self.registry.sender(request.sender_character_id)
        except ServiceError as exc:
            await abort(context, exc)
        reached = self.registry.deliver(
            self.registry.map_members(sender.map_id),
            kind=chat_pb2.CHAT_KIND_SHOUT,
            message=message,
            sender_name=sender.name,
            sender=sender,
        )
        return chat_pb2.SendReply(recipients=reached)

    async def GroupChat(
        self, request: chat_pb2.GroupChatRequest, context: _Context
    ) -> chat_pb2.SendReply:
        """Deliver to the sender's party, clan or allied team."""
        try:
            check_character_id(request.sender_character_id, "sender_character_id")
            message = check_message(request.message)
            sender = self.registry.sender(request.sender_character_id)
            members = self.registry.group_members(request.kind, sender)
        except ServiceError as exc:
            await abort(context, exc)
        reached = self.registry.deliver(
            members, kind=request.kind, message=message, sender_name=sender.name, sender=sender
        )
        return chat_pb2.SendReply(recipients=reached)

    async def Announce(
        self, request: chat_pb2.AnnounceRequest, context: _Context
    ) -> chat_pb2.SendReply:
        """Deliver to every hosted character."""
        try:
            sender_name = check_name(request.sender_name, "sender_name")
            message = check_message(request.message)
        except ServiceError as exc:
            await abort(context, exc)
        reached = self.registry.deliver(
            self.registry.everyone(),
            kind=chat_pb2.CHAT_KIND_ANNOUNCE,
            message=message,
            sender_name=sender_name,
        )
        return chat_pb2.SendReply(recipients=reached)

    async def Kick(self, request: chat_pb2.KickRequest, context: _Context) -> chat_pb2.KickReply:
        """Tell the gateway hosting the named character to close its connection."""
        try:
            target_name = check_name(request.target_name, "target_name")
            reason = check_text(request.reason, "reason", MAX_MESSAGE_BYTES, allow_empty=True)
        except ServiceError as exc:
            await abort(context, exc)
        target = self.registry.kick(target_name, reason)
        if target is None:
            return chat_pb2.KickReply(kicked=False)
        log.info("chat: kicking %r (%s)", target.name, reason)
        return chat_pb2.KickReply(kicked=True, target_name=target.name)

    async def GetStats(
        self, request: chat_pb2.ChatStatsRequest, context: _Context
    ) -> chat_pb2.ChatStats:
        """The service counters."""
        return self.registry.stats()


class ChatReferenceService:
    """The chat service as a :class:`gateway_core.service_host.ReferenceService`.

    ``queue_limit`` bounds each gateway's delivery queue (CHAT_SUBSCRIBER_QUEUE).
    """

    def __init__(self, *, queue_limit: int = DEFAULT_QUEUE_LIMIT) -> None:
        self.registry = ChatRegistry(queue_limit)
        self.servicer = ChatServicer(self.registry)

    def add_to_server(self, server: grpc.aio.Server) -> None:
        """Register the servicer on ``server``."""
        chat_pb2_grpc.add_ChatServicer_to_server(self.servicer, server)

    async def start(self) -> None:
        """Nothing to open: chat keeps no storage."""

    async def stop(self) -> None:
        """End every delivery stream with UNAVAILABLE so gateways reconnect elsewhere."""
        self.registry.close_all(grpc.StatusCode.UNAVAILABLE, "chat service shutting down")
