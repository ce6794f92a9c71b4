"""The client's whole journey through one gateway port (docs/protocol.md §7.1-7.4, §7.7-7.8)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from gateway_core.api import WORLD_PLACEMENT
from gateway_core.bot import ConnectionClosed
from gateway_core.bot import steps as flow
from gateway_core.protocol.packets import (
    MAX_ITEMS,
    CliChangeCharReq,
    JoinResult,
    LoginResult,
    ServerSelectResult,
    SrvChanCharReply,
)

StartGateway = Any  # the start_gateway fixture (tests/e2e/conftest.py)

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("cipher", ["plain", "rosecrypt"])
async def test_new_account_logs_in_creates_a_character_and_enters_the_world(
    start_gateway: StartGateway, cipher: str
) -> None:
    async with start_gateway(cipher=cipher) as gw:
        await gw.account("alice", "secret")

        # Login leg: the server list comes with OK, the select hands out this gateway.
        login_leg = await gw.connect()
        login = await flow.login(login_leg, "alice", "secret")
        assert login.result is LoginResult.OK
        assert login.right == 1
        assert [(s.name, s.id, s.test) for s in login.servers_info] == [
            (b"rose-gateway", 1, ord(" "))
        ]
        channels = await flow.channel_list(login_leg, 1)
        assert channels.id == 1 and [c.id for c in channels.channels] == [1]
        selected = await flow.select_server(login_leg, 1, 1)
        assert selected.result is ServerSelectResult.OK
        assert selected.session_id != 0
        assert (selected.ip.decode(), selected.port) == (gw.host, gw.port)
        await login_leg.aclose()

        # Character leg on the address handed out.
        char_leg = await gw.connect(selected.ip.decode(), selected.port)
        joined = await flow.join(char_leg, selected.session_id, "secret")
        assert joined.result is JoinResult.OK and joined.id != 0
        assert (await flow.char_list(char_leg)).characters == ()
        await gw.create(char_leg, "Alice")
        listing = await flow.char_list(char_leg)
        [info] = listing.characters
        assert (info.name, info.level, info.remain_secs_until_delete) == (b"Alice", 1, 0)
        assert len(info.items) == 8
        switch = await flow.select_character(char_leg, 0, "Alice")
        assert switch.session_id == selected.session_id
        assert (switch.ip.decode(), switch.port) == (gw.host, gw.port)

        # World leg, while the character connection stays open.
        world_leg, world_join, initial = await gw.enter_world(switch, "secret")
        assert world_join.id != 0
        character = initial.character
        assert character.name == b"Alice" and character.level == 1
        assert character.map == 1 and (character.x, character.y) == (520000.0, 520000.0)
        assert len(initial.inventory.items) == MAX_ITEMS
        assert (initial.billing.function_type, initial.billing.pay_flag) == (0x1001, 2)
        session = gw.gateway.connections.by_character_name("alice")
        assert session is not None
        assert session.records.require(WORLD_PLACEMENT).object_id == world_join.id

        bye = await flow.logout(world_leg)
        assert bye.wait_time == 0
        # Logout ends the session: every connection of it is closed, the account is free.
        with pytest.raises(ConnectionClosed):
            await char_leg.receive(timeout=2.0)
        again = await gw.connect()
        assert (await flow.login(again, "alice", "secret")).result is LoginResult.OK


async def test_change_character_returns_to_character_select_without_a_new_login(
    start_gateway: StartGateway,
) -> None:
    async with start_gateway() as gw:
        await gw.account("bob", "pw")
        char_leg, session_id = await gw.character_select("bob", "pw")
        await gw.create(char_leg, "Bobby")
        await gw.create(char_leg, "Roberta")
        world_leg, _, initial = await gw.enter_world(
            await gw.select(char_leg, "Bobby"), "pw"
        )
        assert initial.character.name == b"Bobby"

        await world_leg.send(CliChangeCharReq())
        await world_leg.expect(SrvChanCharReply, step="change_char")
        await world_leg.aclose()

        # Same session id, no login: the join lands in character select again.
        again = await gw.connect()
        joined = await flow.join(again, session_id, "pw")
        assert joined.result is JoinResult.OK
        assert [c.name for c in (await flow.char_list(again)).characters] == [
            b"Bobby", b"Roberta",
        ]
        _, _, initial = await gw.enter_world(await gw.select(again, "Roberta"), "pw")
        assert initial.character.name == b"Roberta"


async def test_a_session_survives_its_character_connection_and_ends_after_the_grace(
    start_gateway: StartGateway,
) -> None:
    async with start_gateway(SESSION_GRACE=0.6) as gw:
        await gw.account("carol", "pw")
        char_leg, session_id = await gw.character_select("carol", "pw")
        await gw.create(char_leg, "Carol")
        switch = await gw.select(char_leg, "Carol")
        await char_leg.aclose()  # the world leg picks the session up within the grace
        world_leg, _, initial = await gw.enter_world(switch, "pw")
        assert initial.character.name == b"Carol"
        await anyio.sleep(1.0)  # longer than the grace: the world leg keeps the session
        probe = await gw.connect()
        assert (await flow.login(probe, "carol", "pw")).result is LoginResult.ALREADY_LOGGEDIN

        await world_leg.aclose()
        # Every connection is gone: after the grace period the account is free again.
        with anyio.fail_after(5):
            while True:
                retry = await gw.connect()
                if (await flow.login(retry, "carol", "pw")).result is LoginResult.OK:
                    break
                await anyio.sleep(0.1)
        forgotten = await gw.connect()
        assert (await flow.join(forgotten, session_id, "pw")).result is JoinResult.INVALID_PASSWORD


async def test_characters_and_a_free_account_survive_a_gateway_restart(
    start_gateway: StartGateway,
) -> None:
    async with start_gateway() as gw:
        await gw.account("dave", "pw")
        char_leg, _ = await gw.character_select("dave", "pw")
        await gw.create(char_leg, "Davina")
        await gw.enter_world(await gw.select(char_leg, "Davina"), "pw")
        # Stopped while playing: the shutdown ends the sessions of its closed connections.

    async with start_gateway() as gw:
        char_leg, _ = await gw.character_select("dave", "pw")
        listing = await flow.char_list(char_leg)
        assert [c.name for c in listing.characters] == [b"Davina"]
