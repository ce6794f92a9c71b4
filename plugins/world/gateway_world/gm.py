"""GM chat commands of the world: ``/tp``, ``/goto``, ``/summon``, ``/where``, and ``/level``
and ``/heal`` on the GM's own character.

``/level`` and ``/heal`` change what the world service decides (the level, HP and MP), so the
world changes them and sends ``PAKWC_LEVELUP`` / ``PAKWC_SET_HP_AND_MP``; the character plugin
stores the result like any progress (a level change at once).

Each moves a character the way a warp gate does (:meth:`WorldRuntime.teleport`: the world
service checks the map and the point, the client gets ``PAKWC_TELEPORT_REPLY`` and reloads the
map), so a GM jump is saved and seen like any other. Names are looked up on every gateway
through the world service (``/goto``); ``/summon`` moves a character this gateway hosts (the
teleport reply must come from the connection the client has), and says so for one hosted
elsewhere. Bad input (missing or non-numeric arguments, a point that is not finite or outside
the map, a name that matches nobody) gets a server whisper and changes nothing.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

from gateway_core.api import (
    SELECTED_CHARACTER,
    WORLD_PLACEMENT,
    ChatCommandError,
    int_argument,
    server_message,
)
from gateway_world.runtime import WorldRuntime

if TYPE_CHECKING:
    from gateway_core.api import ChatCommand, ChatCommandRegistrar, PacketContext

    Ctx = PacketContext[WorldRuntime | None]

#: Default access level of the world's GM commands (GM_COMMAND_LEVELS overrides it).
GM_LEVEL: Final = 100
#: Longest character name a command accepts (the protocol's names are shorter).
MAX_NAME: Final = 32


def _runtime(ctx: Ctx) -> WorldRuntime:
    if ctx.runtime is None:
        raise ChatCommandError("The world is unavailable right now.")
    return ctx.runtime


def _coordinate(word: str) -> float:
    try:
        value = float(word)
    except ValueError:
        raise ChatCommandError() from None
    if not math.isfinite(value):
        raise ChatCommandError()
    return value


def _name(command: ChatCommand) -> str:
    if len(command.words) != 1 or len(command.words[0]) > MAX_NAME:
        raise ChatCommandError()
    return command.words[0]


async def _jump(ctx: Ctx, map_id: int, x: float, y: float, what: str) -> None:
    if not await _runtime(ctx).teleport(ctx.session, map_id, x, y):
        raise ChatCommandError(f"{what}: the world refused (no such map, or the point is "
                               "outside it).")


async def on_tp(ctx: Ctx, command: ChatCommand) -> None:
    """``/tp MAP X Y``: jump to a point of any map."""
    if len(command.words) != 3:
        raise ChatCommandError()
    map_id = int_argument(command.words[0], low=1, high=0xFFFF)
    x, y = _coordinate(command.words[1]), _coordinate(command.words[2])
    await _jump(ctx, map_id, x, y, f"/tp {map_id} {x:.0f} {y:.0f}")


async def on_goto(ctx: Ctx, command: ChatCommand) -> None:
    """``/goto NAME``: jump to where that character is, on any gateway."""
    name = _name(command)
    where = await _runtime(ctx).locate(name)
    if where is None:
        raise ChatCommandError(f"Nobody called {name} is in the world.")
    map_id, x, y = where
    await _jump(ctx, map_id, x, y, f"/goto {name}")


async def on_summon(ctx: Ctx, command: ChatCommand) -> None:
    """``/summon NAME``: bring that character (hosted by this gateway) to where you stand."""
    name = _name(command)
    runtime = _runtime(ctx)
    here = ctx.session.records.get(WORLD_PLACEMENT)
    if here is None or here.object_id is None:
        raise ChatCommandError("You are on no map.")
    target = ctx.connections.by_character_name(name)
    if target is None or target.records.get(SELECTED_CHARACTER) is None or \
            target.records.get(WORLD_PLACEMENT) is None:
        if await runtime.locate(name) is not None:
            raise ChatCommandError(f"{name} plays on another gateway; /summon reaches the "
                                   "players of yours (use /goto).")
        raise ChatCommandError(f"Nobody called {name} is in the world.")
    if target is ctx.session:
        raise ChatCommandError("You are already here.")
    if not await runtime.teleport(target, here.map_id, here.position.x, here.position.y):
        raise ChatCommandError(f"/summon {name}: the world refused.")
    ctx.send(target, server_message("A GM summoned you."))
    ctx.reply(server_message(f"Summoned {name}."))


def on_where(ctx: Ctx, command: ChatCommand) -> None:
    """``/where``: your map, channel and position."""
    if command.words:
        raise ChatCommandError()
    character = ctx.session.records.get(SELECTED_CHARACTER)
    here = ctx.session.records.get(WORLD_PLACEMENT)
    if character is None or here is None:
        raise ChatCommandError("You are on no map.")
    ctx.reply(server_message(
        f"map {here.map_id} channel {character.channel_id} at "
        f"({here.position.x:.0f}, {here.position.y:.0f}), object {here.object_id or 0}"
    ))


#: Highest level ``/level`` sets.
MAX_LEVEL: Final = 250


async def on_level(ctx: Ctx, command: ChatCommand) -> None:
    """``/level N``: your level (1 to :data:`MAX_LEVEL`), XP within it 0, HP and MP full."""
    if len(command.words) != 1:
        raise ChatCommandError()
    level = int_argument(command.words[0], low=1, high=MAX_LEVEL)
    if not await _runtime(ctx).adjust(ctx.session, level=level):
        raise ChatCommandError("/level: the world refused.")
    ctx.reply(server_message(f"Level: {level}."))


async def on_heal(ctx: Ctx, command: ChatCommand) -> None:
    """``/heal``: your HP and MP to their maximum."""
    if command.words:
        raise ChatCommandError()
    if not await _runtime(ctx).adjust(ctx.session, heal=True):
        raise ChatCommandError("/heal: the world refused.")
    ctx.reply(server_message("Healed."))


def register_gm_commands(register: ChatCommandRegistrar) -> None:
    """The world's GM commands, each at :data:`GM_LEVEL` by default."""
    register("level", on_level, level=GM_LEVEL, usage=f"N (1-{MAX_LEVEL})",
             help="set your level")
    register("heal", on_heal, level=GM_LEVEL, help="restore your HP and MP")
    register("tp", on_tp, level=GM_LEVEL, usage="MAP X Y", help="jump to a point of a map")
    register("goto", on_goto, level=GM_LEVEL, usage="NAME", help="jump to a character")
    register("summon", on_summon, level=GM_LEVEL, usage="NAME",
             help="bring a character of this gateway to you")
    register("where", on_where, level=GM_LEVEL, help="say where you are")
