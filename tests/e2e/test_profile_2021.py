"""An osIROSE-new era client (numbering and layouts of profile 2021, docs/protocol.md §6, §9.1)
plays through one gateway with ``PACKET_PROFILE=2021``: login, character select, world, map,
chat, and the packets whose payloads differ between the profiles, both ways.

No built-in plugin handles the bank or crafting packets, so a small test plugin does: it
records what the gateway decoded and answers with ``PAKWC_CRAFT_ENHANCE_REPLY``. The client
decodes everything with the 2021 layouts; a 2026 layout anywhere on the way would show up as
wrong values or lenient-decode warnings on either side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gateway_core.api import PacketContext, PacketRegistrar, SessionState, hookimpl
from gateway_core.bot import GameClient
from gateway_core.bot import steps as flow
from gateway_core.protocol.packets import (
    BankMoveMode,
    CliBankMoveItem,
    CliCraftEnhanceReq,
    CraftEnhancementData,
    CraftEnhancementResult,
    CraftEnhancementType,
    IndexAndItem,
    Item,
    JoinResult,
    LoginResult,
    Packet,
    SrvCraftEnhanceReply,
)
from gateway_core.testing import GATEWAY_TEST_SETTINGS, RunningGateway, running_gateway

pytestmark = pytest.mark.anyio

ITEM = Item.stack(type=10, id=5, count=2)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class BankAndCraft:
    """A test plugin: takes the two client packets of §9.1 in the world."""

    def __init__(self) -> None:
        self.received: list[Packet] = []

    def on_bank_move(self, ctx: PacketContext[None], packet: CliBankMoveItem) -> None:
        self.received.append(packet)

    def on_enhance(self, ctx: PacketContext[None], packet: CliCraftEnhanceReq) -> None:
        self.received.append(packet)
        ctx.reply(SrvCraftEnhanceReply(
            result=CraftEnhancementResult.GEM_SUCCESS,
            items=(IndexAndItem(index=5, item=ITEM), IndexAndItem(index=6, item=Item())),
        ))

    @hookimpl
    def gateway_register_packets(self, register: PacketRegistrar) -> None:
        world = {SessionState.IN_WORLD}
        register(CliBankMoveItem.NAME, self.on_bank_move, states=world)
        register(CliCraftEnhanceReq.NAME, self.on_enhance, states=world)


@dataclass
class Running2021(RunningGateway):
    """Client connections that speak profile 2021."""

    opened: list[GameClient] = field(default_factory=list)

    async def connect(self, host: str | None = None, port: int | None = None) -> GameClient:
        client = await flow.connect(host or self.host, port or self.port, cipher=self.cipher,
                                    profile="2021", timeout=self.timeout)
        self.clients.append(client)
        self.opened.append(client)
        return client


def _settings(tmp_path: Path, cipher: str, profile: str = "2021") -> dict[str, Any]:
    # The test's own plugin owns the bank packets here: the built-in items plugin stays out.
    return {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path / "data"), "CIPHER": cipher,
            "PACKET_PROFILE": profile, "GATEWAY_LOAD_PLUGINS": "auth,character,chat,world"}


@pytest.mark.parametrize("cipher", ["plain", "rosecrypt"])
async def test_a_2021_client_logs_in_selects_a_character_and_plays(
    tmp_path: Path, cipher: str
) -> None:
    plugin = BankAndCraft()
    async with running_gateway(
        _settings(tmp_path, cipher),
        lambda gateway, host, port: Running2021(gateway, host, port, cipher),
        plugins=[(plugin, "bank-and-craft")],
    ) as gw:
        assert gw.gateway.router.packet_names.isdisjoint(
            {"PAKCS_LOGIN_TOKEN_REQ", "PAKCS_JOIN_SERVER_TOKEN_REQ"}
        )
        await gw.account("olduser", "secret")

        # Login leg: PAKLC_LOGIN_REPLY is 0x50A in 2021 (0x50B in 2026).
        login_leg = await gw.connect()
        login = await flow.login(login_leg, "olduser", "secret")
        assert login.result is LoginResult.OK and login.servers_info
        channels = await flow.channel_list(login_leg, login.servers_info[0].id)
        selected = await flow.select_server(login_leg, login.servers_info[0].id,
                                            channels.channels[0].id)
        await login_leg.aclose()

        # Character leg.
        char_leg = await gw.connect(selected.ip.decode(), selected.port)
        joined = await flow.join(char_leg, selected.session_id, "secret")
        assert joined.result is JoinResult.OK
        await flow.create_character(char_leg, "Oldie")
        listing = await flow.char_list(char_leg)
        assert [c.name for c in listing.characters] == [b"Oldie"]
        switch = await flow.select_character(char_leg, 0, "Oldie")

        # World leg and the map.
        world_leg = await gw.connect(switch.ip.decode(), switch.port)
        entry = await flow.enter_world(world_leg, switch.session_id, "secret")
        assert entry.initial.character.name == b"Oldie"
        echo = await flow.chat(world_leg, entry.object_id, "hello from 2021")
        assert echo.message == b"hello from 2021"

        # The payloads that differ: a bank move (mode 1 on this wire, BANK_TO_INVENTORY = 17
        # for the handler) and an enhance request (empty on this wire), then the reply
        # (Item records without indexes on this wire).
        await world_leg.send(
            CliBankMoveItem(mode=BankMoveMode.BANK_TO_INVENTORY, index=2, item=ITEM),
            CliCraftEnhanceReq(enhancement=CraftEnhancementType.UPGRADE_NPC,
                               data=CraftEnhancementData(0x0302)),
        )
        reply = await world_leg.expect(SrvCraftEnhanceReply, step="craft_enhance")
        assert reply.result is CraftEnhancementResult.GEM_SUCCESS
        assert reply.items == (IndexAndItem(index=0, item=ITEM), IndexAndItem(index=0, item=Item()))
        move, enhance = plugin.received
        assert move == CliBankMoveItem(mode=BankMoveMode.BANK_TO_INVENTORY, index=2, item=ITEM)
        assert isinstance(move, CliBankMoveItem) and move.mode is BankMoveMode.BANK_TO_INVENTORY
        assert enhance == CliCraftEnhanceReq()  # the 2021 request carries no fields

        await flow.logout(world_leg)  # PAKWC_LOGOUT_REPLY: same layout, 2021 number

        # Nothing on the way was decoded leniently, on either side.
        assert all(not client.warnings for client in gw.opened), [c.warnings for c in gw.opened]
        for kind in ("short_payload", "extra_bytes", "unknown_type"):
            assert gw.sample("gateway_protocol_warnings_total", {"kind": kind}) == 0.0


async def test_the_same_plugin_under_2026_sees_the_2026_layouts(tmp_path: Path) -> None:
    # The control: with the default profile, the enhance request's fields arrive.
    plugin = BankAndCraft()
    async with running_gateway(
        _settings(tmp_path, "plain", "2026"),
        lambda gateway, host, port: RunningGateway(gateway, host, port, "plain"),
        plugins=[(plugin, "bank-and-craft")],
    ) as gw:
        world_leg, _ = await gw.join_world("Newbie")
        request = CliCraftEnhanceReq(enhancement=CraftEnhancementType.UPGRADE_NPC,
                                     data=CraftEnhancementData(0x0302))
        await world_leg.send(CliBankMoveItem(mode=BankMoveMode.INVENTORY_TO_BANK), request)
        reply = await world_leg.expect(SrvCraftEnhanceReply, step="craft_enhance")
        assert [entry.index for entry in reply.items] == [5, 6]
        assert plugin.received == [CliBankMoveItem(mode=BankMoveMode.INVENTORY_TO_BANK),
                                   request]
        assert not world_leg.warnings
