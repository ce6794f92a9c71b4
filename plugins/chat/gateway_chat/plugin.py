"""The chat plugin: the reference chat service, its settings and client, and the delivery glue.

Each gateway keeps a :class:`~gateway_chat.runtime.ChatRuntime` (its delivery stream and hosted
sessions). The packet handlers (whisper, shout, clan/allied chat; party chat is the party
plugin's) are
:mod:`gateway_chat.handlers`; they get this gateway's runtime as ``ctx.runtime``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from gateway_protos.v1 import chat_pb2_grpc

from gateway_chat.commands import register_chat_commands, register_cli_commands
from gateway_chat.handlers import register_packets
from gateway_chat.runtime import SERVICE, ChatRuntime
from gateway_chat.service import DEFAULT_QUEUE_LIMIT, ChatReferenceService
from gateway_core.api import (
    RuntimeRegistrar,
    hookimpl,
    positive_int,
    positive_number,
)

if TYPE_CHECKING:
    from gateway_core.api import (
        ChatCommandRegistrar,
        CommandRegistrar,
        GrpcClientRegistrar,
        PacketRegistrar,
        ServiceConfig,
        ServiceRegistrar,
        SettingsRegistrar,
    )

log = logging.getLogger(__name__)


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


@hookimpl
def gateway_register_runtime(register: RuntimeRegistrar) -> None:
    """One :class:`ChatRuntime` per gateway: its delivery stream and its hosted sessions."""
    register(ChatRuntime.create)


@hookimpl
def gateway_register_packets(register: PacketRegistrar) -> None:
    """Whisper, shout and group chat (:mod:`.handlers`)."""
    register_packets(register)


@hookimpl
def gateway_register_chat_commands(register: ChatCommandRegistrar) -> None:
    """/announce and /kick (:mod:`.commands`)."""
    register_chat_commands(register)


@hookimpl
def gateway_register_commands(register: CommandRegistrar) -> None:
    """``gateway announce`` and ``gateway kick`` (:mod:`.commands`)."""
    register_cli_commands(register)
