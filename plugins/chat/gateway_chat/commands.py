"""GM commands of the chat plugin, typed in chat (``/announce``, ``/kick``) and on the command
line (``gateway announce``, ``gateway kick``).

Both go through the chat service, which knows every gateway and where each character is
hosted: an announcement is a ``PAKSW_ANNOUNCE_CHAT`` to every in-world player on every gateway
(``Announce``), a kick closes the character's connection on whichever gateway hosts it
(``Kick``). The CLI reaches the chat service through ``cli.service_channel("chat")``: the
remote one (CHAT_SERVICE_ADDR), which every running gateway is subscribed to; without that
setting it starts a reference service of its own, to which no gateway is subscribed, so an
announcement reaches nobody and every kick finds nobody (both commands say so).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Final, cast

import grpc
from gateway_protos.v1 import chat_pb2, chat_pb2_grpc

from gateway_chat.delivery import not_found_packet
from gateway_chat.handlers import CHAT_UNAVAILABLE, character_name
from gateway_chat.runtime import SERVICE, ChatRuntime
from gateway_chat.service.limits import MAX_MESSAGE_BYTES, MAX_NAME_BYTES
from gateway_core.api import SELECTED_CHARACTER, ChatCommandError, server_message

if TYPE_CHECKING:
    from gateway_protos.v1.chat_pb2_grpc import ChatAsyncStub

    from gateway_core.api import (
        ChatCommand,
        ChatCommandRegistrar,
        CommandContext,
        CommandRegistrar,
        PacketContext,
    )

#: Default access level of /announce and /kick (GM_COMMAND_LEVELS overrides it).
GM_LEVEL: Final = 100
#: Announcer name of ``gateway announce`` unless ``--as`` gives one.
CLI_ANNOUNCER: Final = "Server"


def _stub(ctx: PacketContext[ChatRuntime | None]) -> ChatAsyncStub:
    stub = ctx.clients.get(SERVICE)
    if stub is None:
        raise ChatCommandError(CHAT_UNAVAILABLE)
    return cast("ChatAsyncStub", stub)


def _announcer(ctx: PacketContext[ChatRuntime | None]) -> str:
    selected = ctx.session.records.get(SELECTED_CHARACTER)
    name = selected.name if selected is not None and selected.name else CLI_ANNOUNCER
    return name.encode("utf-8")[:MAX_NAME_BYTES].decode("utf-8", "ignore") or CLI_ANNOUNCER


async def on_announce(ctx: PacketContext[ChatRuntime | None], command: ChatCommand) -> None:
    """``/announce TEXT``: ``PAKSW_ANNOUNCE_CHAT`` from the GM's name to every player in the
    world, on every gateway."""
    text = command.args
    if not text or len(text.encode("utf-8")) > MAX_MESSAGE_BYTES:
        raise ChatCommandError()
    try:
        reply = await _stub(ctx).Announce(
            chat_pb2.AnnounceRequest(sender_name=_announcer(ctx), message=text)
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() is grpc.StatusCode.INVALID_ARGUMENT:
            raise ChatCommandError() from None
        raise ChatCommandError(CHAT_UNAVAILABLE) from None
    if not reply.recipients:
        ctx.reply(server_message("Nobody is in the world to hear it."))


async def on_kick(ctx: PacketContext[ChatRuntime | None], command: ChatCommand) -> None:
    """``/kick NAME``: close that character's connection, on whichever gateway hosts it; a
    name nobody plays is told with the whisper of an offline whisper target."""
    if len(command.words) != 1:
        raise ChatCommandError()
    target = character_name(command.words[0].encode("utf-8"))
    if target is None:
        raise ChatCommandError()
    selected = ctx.session.records.get(SELECTED_CHARACTER)
    by = selected.name if selected is not None else "a GM"
    try:
        reply = await _stub(ctx).Kick(
            chat_pb2.KickRequest(target_name=target, reason=f"kicked by {by}")
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() is grpc.StatusCode.INVALID_ARGUMENT:
            raise ChatCommandError() from None
        raise ChatCommandError(CHAT_UNAVAILABLE) from None
    if reply.kicked:
        ctx.reply(server_message(f"Kicked {reply.target_name}."))
    else:
        ctx.reply(not_found_packet(target))


def register_chat_commands(register: ChatCommandRegistrar) -> None:
    """``/announce`` and ``/kick``."""
    register("announce", on_announce, level=GM_LEVEL, usage="TEXT",
             help="announce TEXT to every player on every gateway")
    register("kick", on_kick, level=GM_LEVEL, usage="NAME",
             help="disconnect the character NAME, wherever it plays")


# --- the command line -------------------------------------------------------------------------


def _configure_announce(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="+", help="the announcement")
    parser.add_argument("--as", dest="sender", default=CLI_ANNOUNCER,
                        help=f"announcer name shown to the players (default {CLI_ANNOUNCER})")


async def _run_announce(args: argparse.Namespace, cli: CommandContext) -> int:
    text = " ".join(args.text)
    try:
        async with cli.service_channel(SERVICE) as channel:
            stub: chat_pb2_grpc.ChatAsyncStub = chat_pb2_grpc.ChatStub(channel)
            reply = await stub.Announce(
                chat_pb2.AnnounceRequest(sender_name=args.sender, message=text)
            )
    except grpc.aio.AioRpcError as exc:
        print(f"error: {exc.details() or exc.code().name}", file=sys.stderr)
        return 1
    print(f"announced to {reply.recipients} player(s)", file=cli.out)
    return 0


def _configure_kick(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="character name (case-insensitive)")
    parser.add_argument("--reason", default="kicked by an operator",
                        help="what the player is told")


async def _run_kick(args: argparse.Namespace, cli: CommandContext) -> int:
    try:
        async with cli.service_channel(SERVICE) as channel:
            stub: chat_pb2_grpc.ChatAsyncStub = chat_pb2_grpc.ChatStub(channel)
            reply = await stub.Kick(chat_pb2.KickRequest(target_name=args.name,
                                                         reason=args.reason))
    except grpc.aio.AioRpcError as exc:
        print(f"error: {exc.details() or exc.code().name}", file=sys.stderr)
        return 1
    if not reply.kicked:
        print(f"error: {args.name} is not online", file=sys.stderr)
        return 1
    print(f"kicked {reply.target_name}", file=cli.out)
    return 0


def register_cli_commands(register: CommandRegistrar) -> None:
    """``gateway announce TEXT`` and ``gateway kick NAME``."""
    register("announce", help="announce a message to every player on every gateway",
             configure=_configure_announce, run=_run_announce)
    register("kick", help="disconnect a character, on whichever gateway it plays",
             configure=_configure_kick, run=_run_kick)
