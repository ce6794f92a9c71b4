"""GM chat commands on the GM's own character: ``/zuly`` and ``/item``. (``/level`` and
``/heal`` change what the world decides, and are the world plugin's.)

Each change is made in the character service first (money: one ChangeItems with a zuly
delta, since SaveCharacter never writes money or items), then to the state loaded on the world
join (kept in the connection's :data:`~gateway_character.handlers.PLAYING`), so a gateway
killed right after loses nothing and a failed change changes nothing; then the client is told
with the protocol's packet for it: ``PAKWC_SET_MONEY`` for money, ``PAKWC_SET_ITEM`` for an
item. Bad arguments (missing, non-numeric, negative, too large, overflowing) are answered
with the usage and change nothing.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Final

import grpc
from gateway_protos.v1 import character_pb2, common_pb2

from gateway_character.handlers import PLAYING, Playing
from gateway_core.api import (
    ChatCommandError,
    IndexAndItem,
    Item,
    ItemData,
    ItemHeader,
    SrvSetItem,
    SrvSetMoney,
    int_argument,
    server_message,
)

if TYPE_CHECKING:
    from gateway_core.api import ChatCommand, ChatCommandRegistrar, PacketContext

log = logging.getLogger("gateway.character.gm")

#: Default access level of the GM commands (GM_COMMAND_LEVELS overrides it per command).
GM_LEVEL: Final = 100
#: Most money a character may have (the packets carry it as a signed 64-bit number).
MAX_MONEY: Final = 2**63 - 1


def _playing(ctx: PacketContext[None]) -> Playing:
    playing = ctx.session.plugin_data.get(PLAYING)
    if playing is None:
        raise ChatCommandError("No character is loaded on this connection.")
    return playing


async def on_zuly(ctx: PacketContext[None], command: ChatCommand) -> None:
    """``/zuly N`` sets the money, ``/zuly +N`` adds to it.

    Money changes through the character service's ChangeItems (SaveCharacter never writes
    it): ``+N`` is a delta of N, ``N`` the delta from the money the service has now (read
    with GetCharacter). The reply's zuly is put on the loaded state, under the lock of the
    character's saves, and told to the client."""
    if len(command.words) != 1:
        raise ChatCommandError()
    word = command.words[0]
    amount = int_argument(word.removeprefix("+"), low=0, high=MAX_MONEY)
    if word.startswith("-"):
        raise ChatCommandError()
    playing = _playing(ctx)
    character_id = playing.state.id
    try:
        async with playing.lock:
            if playing.left:  # the character is leaving the world: its last save has run
                raise ChatCommandError("No character is loaded on this connection.")
            if word.startswith("+"):
                delta = amount
            else:
                current = await playing.character.GetCharacter(
                    character_pb2.GetCharacterRequest(character_id=character_id))
                delta = amount - current.money
            reply = await playing.character.ChangeItems(character_pb2.ChangeItemsRequest(
                character_id=character_id, request_id=f"gm-zuly-{uuid.uuid4().hex}",
                zuly_delta=delta))
            if reply.result == character_pb2.ITEM_RESULT_OK:
                playing.state.money = reply.zuly
    except grpc.aio.AioRpcError as exc:
        log.warning("connection #%d: GM change of character %d not saved: %s",
                    ctx.session.connection_id, character_id, exc.code().name)
        raise ChatCommandError("The character could not be saved; nothing changed.") from None
    if reply.result == character_pb2.ITEM_RESULT_TOO_MUCH_ZULY:
        raise ChatCommandError()
    if reply.result != character_pb2.ITEM_RESULT_OK:
        raise ChatCommandError(f"The money was not changed: {reply.message}")
    ctx.reply(SrvSetMoney(zuly=reply.zuly))
    ctx.reply(server_message(f"Zuly: {reply.zuly}."))


async def on_item(ctx: PacketContext[None], command: ChatCommand) -> None:
    """``/item TYPE NUMBER [COUNT]``: put COUNT (default 1) of the content pack's item
    ``(TYPE, NUMBER)`` into your bag, one ChangeItems of the character service (which refuses
    an item the pack does not know, a count above its stack, or no room); PAKWC_SET_ITEM
    tells the client the slots it touched."""
    if len(command.words) not in (2, 3):
        raise ChatCommandError()
    item_type = int_argument(command.words[0], low=1, high=14)
    number = int_argument(command.words[1], low=1, high=0x3FF)
    count = int_argument(command.words[2], low=1, high=999) if len(command.words) == 3 else 1
    playing = _playing(ctx)
    character_id = playing.state.id
    add = character_pb2.ItemOp(add=character_pb2.AddItem(
        item=common_pb2.ItemRef(item_type=item_type, item_number=number), count=count))
    try:
        reply = await playing.character.ChangeItems(character_pb2.ChangeItemsRequest(
            character_id=character_id, request_id=f"gm-item-{uuid.uuid4().hex}", ops=[add]))
    except grpc.aio.AioRpcError as exc:
        log.warning("connection #%d: GM item for character %d not given: %s",
                    ctx.session.connection_id, character_id, exc.code().name)
        raise ChatCommandError("The item could not be given; nothing changed.") from None
    if reply.result != character_pb2.ITEM_RESULT_OK:
        raise ChatCommandError(f"No item given: {reply.message}")
    ctx.reply(SrvSetItem(items=tuple(
        IndexAndItem(index=c.slot, item=Item(ItemHeader(c.item.header), ItemData(c.item.data)))
        for c in reply.changed)))
    ctx.reply(server_message(f"Item {item_type}:{number} x{count} given."))


def register_gm_commands(register: ChatCommandRegistrar) -> None:
    """Register ``/zuly`` and ``/item`` at :data:`GM_LEVEL`."""
    register("zuly", on_zuly, level=GM_LEVEL, usage="N | +N",
             help="set your money to N, or add N")
    register("item", on_item, level=GM_LEVEL, usage="TYPE NUMBER [COUNT]",
             help="put an item of the content pack into your bag")
