"""The bot's building blocks (:mod:`gateway_core.bot.steps`), driven one step at a time
against the scripted server.

Boundary: the server side is the scripted peer of ``tests/bot/conftest.py`` (real TCP on
127.0.0.1, real ProtocolConnection in the server role), standing in for the gateway's auth,
character, chat and world handlers until they exist.
"""

from __future__ import annotations

import pytest

from gateway_core.bot.client import StepTimeout, UnexpectedPacket
from gateway_core.bot.steps import (
    Refused,
    alive,
    char_list,
    connect,
    create_character,
    enter_world,
    join,
    login,
    logout,
    select_character,
    select_server,
)
from gateway_core.protocol.packets import (
    CreateCharResult,
    JoinResult,
    LoginResult,
    ServerSelectResult,
)

from .conftest import CIPHERS, ServerFactory

pytestmark = pytest.mark.anyio

FAST = 1.0  # seconds per wait: the scripted server answers at once


@pytest.mark.parametrize("cipher", CIPHERS)
async def test_blocks_return_refusals_for_the_caller_to_judge(
    scripted_server: ServerFactory, cipher: str
) -> None:
    async with scripted_server(cipher=cipher, accounts={"alice": "secret", "bob": "pw"},
                               characters={"bob": ["Taken"]}) as server:
        async with await connect("127.0.0.1", server.port, cipher=cipher, timeout=FAST) as leg:
            reply = await login(leg, "alice", "secret")
            assert reply.result == LoginResult.OK
            assert [info.id for info in reply.servers_info] == [7]
            selected = await select_server(leg, 7, 1)
            assert selected.result == ServerSelectResult.OK

        async with await connect("127.0.0.1", server.port, cipher=cipher, timeout=FAST) as leg:
            forged = await join(leg, selected.session_id + 1, "secret")
            assert forged.result == JoinResult.INVALID_PASSWORD

        async with await connect("127.0.0.1", server.port, cipher=cipher, timeout=FAST) as leg:
            joined = await join(leg, selected.session_id, "secret")
            assert joined.result == JoinResult.OK
            taken = await create_character(leg, "Taken")
            assert taken.result == CreateCharResult.NAME_TAKEN
            created = await create_character(leg, "Fresh")
            assert created.result == CreateCharResult.OK
            listing = await char_list(leg)
            assert [info.name for info in listing.characters] == [b"Fresh"]
            await alive(leg)  # never answered: the next reply is still the select's
            switch = await select_character(leg, 0, "Fresh")
            assert switch.session_id == selected.session_id

            async with await connect("127.0.0.1", switch.port, cipher=cipher,
                                     timeout=FAST) as world:
                entry = await enter_world(world, switch.session_id, "secret")
                assert entry.object_id == entry.change_map.object_index
                assert entry.initial.character.name == b"Fresh"
                assert entry.initial.billing.function_type == 0x1001
                bye = await logout(world)
                assert bye.wait_time == 0
    assert "PAKCS_ALIVE" in server.received


async def test_enter_world_raises_refused_for_a_bad_session(
    scripted_server: ServerFactory,
) -> None:
    async with scripted_server(accounts={"alice": "secret"}) as server:
        async with await connect("127.0.0.1", server.port, timeout=FAST) as leg:
            with pytest.raises(Refused) as caught:
                await enter_world(leg, 999, "secret")
    assert (caught.value.step, caught.value.code, caught.value.value) == (
        "enter_world", "INVALID_PASSWORD", 3)


async def test_block_timeout_is_a_step_timeout(scripted_server: ServerFactory) -> None:
    async with scripted_server(accounts={"alice": "secret"},
                               mute={"PAKCS_LOGIN_REQ"}) as server:
        async with await connect("127.0.0.1", server.port, timeout=0.1) as leg:
            with pytest.raises(StepTimeout) as caught:
                await login(leg, "alice", "secret", step="my_login")
    assert caught.value.step == "my_login"
    assert caught.value.expected == "PAKLC_LOGIN_REPLY"


async def test_receive_initial_data_rejects_order_swap_as_unexpected_packet(
    scripted_server: ServerFactory,
) -> None:
    async with scripted_server(accounts={"alice": "secret"}, characters={"alice": ["A"]},
                               initial_order=(0, 1, 3, 2)) as server:
        async with await connect("127.0.0.1", server.port, timeout=FAST) as leg:
            await login(leg, "alice", "secret")
            selected = await select_server(leg, 7, 1)
        async with await connect("127.0.0.1", server.port, timeout=FAST) as leg:
            await join(leg, selected.session_id, "secret")
            await select_character(leg, 0, "A")
            async with await connect("127.0.0.1", server.port, timeout=FAST) as world:
                with pytest.raises(UnexpectedPacket) as caught:
                    await enter_world(world, selected.session_id, "secret")
    assert caught.value.received == "PAKWC_BILLING_MESSAGE"
    assert caught.value.expected == "PAKWC_QUEST_DATA"
