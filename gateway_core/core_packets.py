"""The core's own packets, registered as a plugin named "core" through the public hooks.

Every client-facing osIROSE server answers these the same way (docs/protocol.md §4, §7.1, §7.9):
``PAKCS_ACCEPT_REQ`` -> ``PAKSS_ACCEPT_REPLY(ACCEPTED, current Unix time)``; ``PAKCS_ALIVE`` ->
nothing (receiving it already reset the idle timer); ``PAKCS_SCREEN_SHOT_TIME_REQ`` ->
``PAKSC_SCREEN_SHOT_TIME_REPLY`` with every field 0. They are allowed in every state but
CLOSING, so they never trip the router's unknown/wrong-state policy. The core's one chat
command, ``/help``, lists the commands the caller may use.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from gateway_core.api import (
    DISPATCH_STATES,
    AcceptReplyResult,
    CliAcceptReq,
    CliAlive,
    CliScreenShotTimeReq,
    SrvAcceptReply,
    SrvScreenShotTimeReply,
    hookimpl,
    on_help_command,
)

if TYPE_CHECKING:
    from gateway_core.api import ChatCommandRegistrar, PacketContext, PacketRegistrar

#: Every state in which a connection still dispatches packets.
ANY_STATE = DISPATCH_STATES


async def on_accept_req(ctx: PacketContext[None], packet: CliAcceptReq) -> None:
    """Answer the opening handshake of every leg (docs/protocol.md §7.1)."""
    ctx.reply(SrvAcceptReply(result=AcceptReplyResult.ACCEPTED,
                             rand_value=int(time.time()) & 0xFFFFFFFF))


async def on_alive(ctx: PacketContext[None], packet: CliAlive) -> None:
    """Keep-alive: no reply, ever (§7.9); the server already refreshed the idle timer."""


async def on_screen_shot_time_req(ctx: PacketContext[None], packet: CliScreenShotTimeReq) -> None:
    """The client asks for a screenshot timestamp; osIROSE answers all zeros."""
    ctx.reply(SrvScreenShotTimeReply(year=0, month=0, day=0, hour=0, min=0))


@hookimpl
def gateway_register_packets(register: PacketRegistrar) -> None:
    register(CliAcceptReq.NAME, on_accept_req, states=ANY_STATE)
    register(CliAlive.NAME, on_alive, states=ANY_STATE)
    register(CliScreenShotTimeReq.NAME, on_screen_shot_time_req, states=ANY_STATE)


@hookimpl
def gateway_register_chat_commands(register: ChatCommandRegistrar) -> None:
    register("help", on_help_command, level=0, help="the commands you may use")
