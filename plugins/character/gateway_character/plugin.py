"""The character plugin: the reference character service, its settings and the gRPC clients
its packet handlers use. Packet handlers are registered here too (``gateway_character.handlers``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from gateway_protos.v1 import auth_pb2_grpc, character_pb2_grpc

from gateway_character import handlers
from gateway_character.gm import register_gm_commands
from gateway_character.handlers import (  # noqa: F401  (a hook implementation, found by pluggy)
    gateway_session_state_changed,
)
from gateway_character.service import CharacterReferenceService
from gateway_character.service.options import SETTINGS
from gateway_character.tokens import AUTOSAVE_SECONDS, CharacterRuntime, register_token_packets
from gateway_core.api import CHARACTER_PROGRESS, SELECTED_CHARACTER, hookimpl

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
#: Longest autosave period (a day).
MAX_AUTOSAVE_SECONDS = 86400.0


def _autosave_seconds(value: Any) -> str | None:
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value) or not 0 <= value <= MAX_AUTOSAVE_SECONDS):
        return f"must be a number of seconds from 0 to {MAX_AUTOSAVE_SECONDS:.0f}"
    return None


@hookimpl
def gateway_register_packets(register: PacketRegistrar) -> None:
    """Joins, character select and change of character (``gateway_character.handlers``), and
    the refused token join (``gateway_character.tokens``)."""
    handlers.gateway_register_packets(register)
    register_token_packets(register)


@hookimpl
def gateway_register_settings(register: SettingsRegistrar) -> None:
    """CHARACTER_* settings of the reference service (see gateway_character.service.options)
    and the gateway's autosave period."""
    for name, default, validate, doc in SETTINGS:
        register(name, default, validate=validate, doc=doc)
    register(
        "CHARACTER_AUTOSAVE_SECONDS", AUTOSAVE_SECONDS, validate=_autosave_seconds,
        doc="Seconds between two saves of every character in the world on a gateway (when it "
        "changed; 0 = only on leaving the world, a level-up and GM commands): what a killed "
        "gateway loses at most.",
    )


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
    """GM commands on the GM's own character: /zuly, /item
    (:mod:`gateway_character.gm`)."""
    register_gm_commands(register)


@hookimpl
def gateway_register_runtime(register: RuntimeRegistrar) -> None:
    """A :class:`CharacterRuntime` per gateway (the token refusal counter, the background
    saves and the autosave); this plugin is the one writer of the selected-character record
    and watches the world's progress record (a level-up saves the character at once)."""
    register(CharacterRuntime)
    register.claim(SELECTED_CHARACTER)
    register.watch(CHARACTER_PROGRESS, handlers.on_progress)
