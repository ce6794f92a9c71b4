"""Token logins (``PAKCS_LOGIN_TOKEN_REQ``, numbering 2026 only) are refused, and counted.

The protocol defines the packet as one string, ``token``, and nothing else: no issuer, no
format, no lifetime, no server that handles it (docs/protocol.md §10.14). The auth service
issues no such token, so none can be checked honestly; the gateway answers
``PAKLC_LOGIN_REPLY { result = FAILED }`` and leaves the connection open, so the client can
still log in with a password. The handler is ``gateway_auth.handlers.on_login_token_req``;
this module holds what it needs besides: the per-gateway refusal counter
(``gateway_auth_token_refusals_total``, kept by the plugin's runtime) and the registration
that only happens when the gateway's numbering has the packet type.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from prometheus_client import Counter

from gateway_core.api import SessionState

if TYPE_CHECKING:
    from gateway_core.api import (
        PacketContext,
        PacketRegistrar,
        Session,
    )

log = logging.getLogger("gateway.auth")

#: The metric (``_total`` is added by the client library).
METRIC: Final = "gateway_auth_token_refusals"



def refusal_counter(registry: Any) -> Counter:
    """The refusal counter of one gateway, on its metrics ``registry`` (kept by the auth
    plugin's runtime, :class:`gateway_auth.sessions.SessionKeeper`)."""
    return Counter(
        METRIC, "Token login requests refused (the protocol defines no token to check), "
        "by packet type.", ["packet"], registry=registry,
    )


def has_packet_type(register: PacketRegistrar, name: str) -> bool:
    """Whether the numbering the gateway speaks has the packet type ``name`` (the token
    packets exist in 2026 only)."""
    return name in register.profile


def register_if_numbered(
    register: PacketRegistrar, name: str, handler: Any, *, states: Iterable[SessionState]
) -> None:
    """``register(name, handler, states=states)`` unless the gateway's numbering lacks
    ``name`` (then no such packet can arrive, and there is nothing to handle)."""
    if has_packet_type(register, name):
        register(name, handler, states=states)


def refused(ctx: PacketContext[Any], packet_name: str, detail: str) -> None:
    """Log and count one refused token request of ``ctx``'s connection."""
    session: Session = ctx.session
    counter = getattr(ctx.runtime, "token_refusals", None)
    if counter is not None:
        counter.labels(packet_name).inc()
    log.info("connection #%d: %s refused (%s)", session.connection_id, packet_name, detail)

