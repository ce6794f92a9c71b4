"""GM chat commands on the GM's own character: ``/zuly``, ``/level``, ``/heal`` and ``/item``.

Each change is one save of the character in the character service (at the position the
world has it), then made to the state loaded on the world join (kept in the connection's
:data:`~gateway_character.handlers.PLAYING`, stored again when the character leaves the
world), so a gateway killed right after loses nothing and a failed save changes nothing; then
the client is told with the protocol's packet for it:
``PAKWC_SET_MONEY`` for money, ``PAKWC_LEVELUP`` for the level, ``PAKWC_SET_HP_AND_MP`` for
hit and mana points. Bad arguments (missing, non-numeric, negative, too large, overflowing)
are answered with the usage and change nothing.

The character data keeps no maximum HP or MP (no stats-derived maximum exists yet), so
``/heal`` restores what the character data knows: the values a new character starts with
(:data:`HEAL_HP`, :data:`HEAL_MP`), or the current ones when they are higher. ``/item`` is
registered but refuses: the character data has inventory slots, but nothing yet knows which
item ids exist, how they stack or where one may go, so items arrive with the inventory
(issue 11).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import grpc
from gateway_protos.v1 import character_pb2

from gateway_character.convert import clamp
from gateway_character.handlers import PLAYING, Playing, object_id, stored_state
from gateway_core.api import (
    ChatCommandError,
    SrvLevelup,
    SrvSetHpAndMp,
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
#: Highest level ``/level`` sets (the game's level cap).
MAX_LEVEL: Final = 250
#: What ``/heal`` restores at least: a new character's HP and MP (the character service's
#: starting values; the character data keeps no maximum).
HEAL_HP: Final = 100
HEAL_MP: Final = 50
#: The refusal of ``/item``.
ITEMS_LATER: Final = "Items arrive with the inventory (issue 11); /item does nothing yet."


def _playing(ctx: PacketContext[None]) -> Playing:
    playing = ctx.session.plugin_data.get(PLAYING)
    if playing is None:
        raise ChatCommandError("No character is loaded on this connection.")
    return playing


async def _store(ctx: PacketContext[None], change: Callable[[CharacterState], None]) -> None:
    """Make ``change`` to the GM's character as one save in the character service, then to
    the loaded state: a gateway killed right after still has it stored, and a save that
    fails changes nothing (the GM is told)."""
    playing = _playing(ctx)
    state = stored_state(ctx.session, playing)
    change(state)
    try:
        await playing.character.SaveCharacter(character_pb2.SaveCharacterRequest(state=state))
    except grpc.aio.AioRpcError as exc:
        log.warning("connection #%d: GM change of character %d not saved: %s",
                    ctx.session.connection_id, state.id, exc.code().name)
        raise ChatCommandError("The character could not be saved; nothing changed.") from None
    change(playing.state)


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


async def on_level(ctx: PacketContext[None], command: ChatCommand) -> None:
    """``/level N``: the level (1 to :data:`MAX_LEVEL`), experience within it reset to 0."""
    if len(command.words) != 1:
        raise ChatCommandError()
    level = int_argument(command.words[0], low=1, high=MAX_LEVEL)

    def set_level(state: CharacterState) -> None:
        state.level = level
        state.xp = 0

    await _store(ctx, set_level)
    state = _playing(ctx).state
    ctx.reply(SrvLevelup(
        id=object_id(ctx.session), level=level, exp=0,
        stat_points=clamp(state.stat_points, 15), skill_points=clamp(state.skill_points, 15),
    ))
    ctx.reply(server_message(f"Level: {level}."))


async def on_heal(ctx: PacketContext[None], command: ChatCommand) -> None:
    """``/heal``: HP and MP to the maximum the character data knows (see the module)."""
    if command.words:
        raise ChatCommandError()
    def heal(state: CharacterState) -> None:
        state.hp = max(state.hp, HEAL_HP)
        state.mp = max(state.mp, HEAL_MP)

    await _store(ctx, heal)
    state = _playing(ctx).state
    ctx.reply(SrvSetHpAndMp(id=object_id(ctx.session), hp=state.hp, mp=state.mp))
    ctx.reply(server_message(f"HP {state.hp}, MP {state.mp}."))


def on_item(ctx: PacketContext[None], command: ChatCommand) -> None:
    """``/item ID [COUNT]``: refused until the inventory exists (issue 11)."""
    raise ChatCommandError(ITEMS_LATER)


def register_gm_commands(register: ChatCommandRegistrar) -> None:
    """Register ``/zuly``, ``/level``, ``/heal`` and ``/item`` at :data:`GM_LEVEL`."""
    register("zuly", on_zuly, level=GM_LEVEL, usage="N | +N",
             help="set your money to N, or add N")
    register("level", on_level, level=GM_LEVEL, usage=f"N (1-{MAX_LEVEL})",
             help="set your level")
    register("heal", on_heal, level=GM_LEVEL, help="restore your HP and MP")
    register("item", on_item, level=GM_LEVEL, usage="ID [COUNT]",
             help="not yet: items arrive with the inventory (issue 11)")
