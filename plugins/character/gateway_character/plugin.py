"""The character plugin: the reference character service, its settings and the gRPC clients
its packet handlers use. Packet handlers are registered here too (``gateway_character.handlers``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway_protos.v1 import auth_pb2_grpc, character_pb2_grpc

from gateway_character import handlers
from gateway_character.gm import register_gm_commands
from gateway_character.handlers import (  # noqa: F401  (a hook implementation, found by pluggy)
    gateway_session_state_changed,
)
from gateway_character.service import CharacterReferenceService
from gateway_character.service.options import SETTINGS
from gateway_character.tokens import CharacterRuntime, register_token_packets
from gateway_core.api import SELECTED_CHARACTER, hookimpl

if TYPE_CHECKING:
    from gateway_core.api import (
        ChatCommandRegistrar,
        GrpcClientRegistrar,
        PacketRegistrar,
        RuntimeRegistrar,
        ServiceRegistrar,
        SettingsRegistrar,
    )

#: Backend service name of the character contract.
SERVICE = "character"


@hookimpl
def gateway_register_packets(register: PacketRegistrar) -> None:
    """Joins, character select and change of character (``gateway_character.handlers``), and
    the refused token join (``gateway_character.tokens``)."""
    handlers.gateway_register_packets(register)
    register_token_packets(register)


@hookimpl
def gateway_register_settings(register: SettingsRegistrar) -> None:
    """CHARACTER_* settings of the reference service (see gateway_character.service.options)."""
    for name, default, validate, doc in SETTINGS:
        register(name, default, validate=validate, doc=doc)


@hookimpl
def gateway_register_services(register: ServiceRegistrar) -> None:
    """Provide the reference character service."""
    register(SERVICE, CharacterReferenceService.from_config)


@hookimpl
def gateway_register_grpc_clients(register: GrpcClientRegistrar) -> None:
    """The character client, and the auth client (session phase on character select)."""
    register(SERVICE, character_pb2_grpc.CharacterStub)
    register("auth", auth_pb2_grpc.AuthStub)


@hookimpl
def gateway_register_chat_commands(register: ChatCommandRegistrar) -> None:
    """GM commands on the GM's own character: /zuly, /level, /heal, /item
    (:mod:`gateway_character.gm`)."""
    register_gm_commands(register)


@hookimpl
def gateway_register_runtime(register: RuntimeRegistrar) -> None:
    """A :class:`CharacterRuntime` per gateway (the token refusal counter); this plugin is the
    one writer of the selected-character record."""
    register(CharacterRuntime)
    register.claim(SELECTED_CHARACTER)
