"""Token joins (``PAKCS_JOIN_SERVER_TOKEN_REQ``, numbering 2026 only) are refused, and counted.

The protocol defines the packet as the session id and one string, ``token``, and nothing
else: no issuer, no format, no server that handles it (docs/protocol.md §10.14). The auth
service checks a join by the session id and the account's password hash
(``PAKCS_JOIN_SERVER_REQ``) and issues no token, so a token cannot be checked honestly. The
gateway answers ``PAKSC_JOIN_SERVER_REPLY { result = FAILED }`` (a result every client knows,
§7.3 step 3) and leaves the connection open for a password join. Each refusal is logged and
counted (``gateway_character_token_refusals_total``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final, TypeAlias

from prometheus_client import Counter

from gateway_core.api import (
    CliJoinServerTokenReq,
    GatewayView,
    JoinResult,
    PluginRuntime,
    SessionState,
    SrvJoinServerReply,
)

if TYPE_CHECKING:
    from gateway_core.api import PacketContext, PacketRegistrar

log = logging.getLogger("gateway.character")

#: The metric (``_total`` is added by the client library).
METRIC: Final = "gateway_character_token_refusals"



class CharacterRuntime(PluginRuntime):
    """The character plugin's state on one gateway: the refusal counter of token joins on the
    gateway's metrics registry (``ctx.runtime`` of the plugin's handlers)."""

    def __init__(self, gateway: GatewayView) -> None:
        super().__init__(gateway)
        self.token_refusals = Counter(
            METRIC, "Token join requests refused (the protocol defines no token to check), "
            "by packet type.", ["packet"], registry=gateway.metrics_registry,
        )


if TYPE_CHECKING:
    Ctx: TypeAlias = PacketContext[CharacterRuntime | None]


async def on_join_server_token_req(ctx: Ctx, packet: CliJoinServerTokenReq) -> None:
    """Refuse a token join with FAILED; the connection may still join with a password."""
    if ctx.runtime is not None:
        ctx.runtime.token_refusals.labels(CliJoinServerTokenReq.NAME).inc()
    log.info("connection #%d: %s for session %d refused (%d-byte token; no token is defined)",
             ctx.session.connection_id, CliJoinServerTokenReq.NAME, packet.session_id,
             len(packet.token))
    ctx.reply(SrvJoinServerReply(result=JoinResult.FAILED))


def register_token_packets(register: PacketRegistrar) -> None:
    """Claim the token join where the gateway's numbering has it (2026; 2021 lacks it, so no
    such packet can arrive there)."""
    if CliJoinServerTokenReq.NAME in register.profile:
        register(CliJoinServerTokenReq.NAME, on_join_server_token_req,
                 states={SessionState.CONNECTED})

