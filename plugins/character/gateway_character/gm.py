"""GM chat commands on the GM's own character: ``/zuly`` and ``/item``. (``/level`` and
``/heal`` change what the world decides, and are the world plugin's.)

Each change is one save of the character in the character service (at the position the
world has it), then made to the state loaded on the world join (kept in the connection's
:data:`~gateway_character.handlers.PLAYING`, stored again when the character leaves the
world), so a gateway killed right after loses nothing and a failed save changes nothing; then
the client is told with the protocol's packet for it:
``PAKWC_SET_MONEY`` for money. Bad arguments (missing, non-numeric, negative, too large,
overflowing) are answered with the usage and change nothing. ``/item`` is registered but
refuses: the character data has inventory slots, but nothing yet knows which
item ids exist, how they stack or where one may go, so items arrive with the inventory
(issue 11).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import grpc
from gateway_protos.v1 import character_pb2

from gateway_character.handlers import PLAYING, Playing, store
from gateway_core.api import (
    ChatCommandError,
    SrvSetMoney,
    int_argument,
    server_message,
)

if TYPE_CHECKING:
    from gateway_core.api import ChatCommand, ChatCommandRegistrar, PacketContext

CharacterState = character_pb2.CharacterState

log = logging.getLogger("gateway.character.gm")

#: Default access level of the GM commands (GM_COMMAND_LEVELS overrides it per command).
GM_LEVEL: Final = 100
#: Most money a character may have (the packets carry it as a signed 64-bit number).
MAX_MONEY: Final = 2**63 - 1
#: The refusal of ``/item``.
ITEMS_LATER: Final = "Items arrive with the inventory (issue 11); /item does nothing yet."


def _playing(ctx: PacketContext[None]) -> Playing:
    playing = ctx.session.plugin_data.get(PLAYING)
    if playing is None:
        raise ChatCommandError("No character is loaded on this connection.")
    return playing


async def _store(ctx: PacketContext[None], change: Callable[[CharacterState], None]) -> None:
    """Make ``change`` to the GM's character as one save in the character service (in turn
    with the character's other saves, :func:`~gateway_character.handlers.store`), then to
    the loaded state: a gateway killed right after still has it stored, and a save that
    fails changes nothing (the GM is told)."""
    playing = _playing(ctx)
    try:
        stored = await store(ctx.session, playing, change)
    except grpc.aio.AioRpcError as exc:
        log.warning("connection #%d: GM change of character %d not saved: %s",
                    ctx.session.connection_id, playing.state.id, exc.code().name)
        raise ChatCommandError("The character could not be saved; nothing changed.") from None
    if stored is None:  # the character is leaving the world: its last save has run
        raise ChatCommandError("No character is loaded on this connection.")


async def on_zuly(ctx: PacketContext[None], command: ChatCommand) -> None:
    """``/zuly N`` sets the money, ``/zuly +N`` adds to it."""
    if len(command.words) != 1:
        raise ChatCommandError()
    word = command.words[0]
    amount = int_argument(word.removeprefix("+"), low=0, high=MAX_MONEY)
    if word.startswith("-"):
        raise ChatCommandError()
    current = _playing(ctx).state.money
    money = current + amount if word.startswith("+") else amount
    if money > MAX_MONEY:
        raise ChatCommandError()

    def set_money(state: CharacterState) -> None:
        state.money = money

    await _store(ctx, set_money)
    ctx.reply(SrvSetMoney(zuly=money))
    ctx.reply(server_message(f"Zuly: {money}."))


def on_item(ctx: PacketContext[None], command: ChatCommand) -> None:
    """``/item ID [COUNT]``: refused until the inventory exists (issue 11)."""
    raise ChatCommandError(ITEMS_LATER)


def register_gm_commands(register: ChatCommandRegistrar) -> None:
    """Register ``/zuly`` and ``/item`` at :data:`GM_LEVEL`."""
    register("zuly", on_zuly, level=GM_LEVEL, usage="N | +N",
             help="set your money to N, or add N")
    register("item", on_item, level=GM_LEVEL, usage="ID [COUNT]",
             help="not yet: items arrive with the inventory (issue 11)")
