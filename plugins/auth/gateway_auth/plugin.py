"""The auth plugin: the reference auth service, its settings, its gRPC client and the
``gateway account`` command. Packet handlers are registered here too (``gateway_auth.handlers``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway_protos.v1 import auth_pb2_grpc

from gateway_auth.commands import register_account_command
from gateway_auth.handlers import (  # noqa: F401  (a hook implementation, found by pluggy)
    gateway_register_packets,
)
from gateway_auth.service import AuthReferenceService
from gateway_auth.service.options import SETTINGS
from gateway_auth.sessions import SessionKeeper
from gateway_core.api import hookimpl

if TYPE_CHECKING:
    from gateway_core.api import (
        CommandRegistrar,
        GrpcClientRegistrar,
        RuntimeRegistrar,
        ServiceRegistrar,
        SettingsRegistrar,
    )

#: Backend service name of the auth contract.
SERVICE = "auth"


@hookimpl
def gateway_register_settings(register: SettingsRegistrar) -> None:
    """AUTH_* settings of the reference service (see gateway_auth.service.options)."""
    for name, default, validate, doc in SETTINGS:
        register(name, default, validate=validate, doc=doc)


@hookimpl
def gateway_register_services(register: ServiceRegistrar) -> None:
    """Provide the reference auth service."""
    register(SERVICE, AuthReferenceService.from_config)


@hookimpl
def gateway_register_grpc_clients(register: GrpcClientRegistrar) -> None:
    """The auth client used by the login/join handlers (``ctx.clients["auth"]``)."""
    register(SERVICE, auth_pb2_grpc.AuthStub)


@hookimpl
def gateway_register_runtime(register: RuntimeRegistrar) -> None:
    """This gateway's :class:`~gateway_auth.sessions.SessionKeeper` (``ctx.runtime`` of the
    handlers): it ends sessions nobody carries any more and keeps live ones alive."""
    register(SessionKeeper.for_app)


@hookimpl
def gateway_register_commands(register: CommandRegistrar) -> None:
    """``gateway account ...``."""
    register_account_command(register)
