"""Character selection over the character leg: creation rules, delete / undelete, select
(docs/protocol.md §7.3 steps 4-8)."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from gateway_core.bot import ConnectionClosed, StepTimeout
from gateway_core.bot import steps as flow
from gateway_core.protocol.packets import (
    CliDeleteCharReq,
    CliSelectCharReq,
    CreateCharResult,
    SrvDeleteCharReply,
    SrvSwitchServer,
)

StartGateway = Any  # the start_gateway fixture (tests/e2e/conftest.py)

pytestmark = pytest.mark.anyio


async def _delete(client: Any, char_id: int, name: str, *, delete: bool = True) -> Any:
    await client.send(CliDeleteCharReq(char_id=char_id, is_delete=int(delete),
                                       name=name.encode()))
    return await client.expect(SrvDeleteCharReply, step="delete")


async def test_create_answers_the_service_result_codes(start_gateway: StartGateway) -> None:
    async with start_gateway(CHARACTER_MAX_PER_ACCOUNT=2) as gw:
        await gw.account("mia", "pw")
        await gw.account("ned", "pw")
        mia, _ = await gw.character_select("mia", "pw")
        ned, _ = await gw.character_select("ned", "pw")
        await gw.create(mia, "Taken")

        async def create(client: Any, name: str) -> Any:
            return (await flow.create_character(client, name)).result

        assert await create(ned, "taken") is CreateCharResult.NAME_TAKEN  # ignoring case
        assert await create(ned, "ab") is CreateCharResult.INVALID_VALUE  # too short
        assert await create(ned, "9lives") is CreateCharResult.INVALID_VALUE  # bad characters
        assert await create(ned, "") is CreateCharResult.INVALID_VALUE
        assert await create(ned, "Admin") is CreateCharResult.BLOCKED
        await gw.create(ned, "Ned")
        await gw.create(ned, "Nedda")
        assert await create(ned, "Neddy") is CreateCharResult.TOO_MANY_CHARS
        listing = await flow.char_list(ned)
        assert [c.name for c in listing.characters] == [b"Ned", b"Nedda"]


async def test_delete_shows_the_remaining_time_until_undeleted(
    start_gateway: StartGateway,
) -> None:
    async with start_gateway() as gw:
        await gw.account("olga", "pw")
        client, _ = await gw.character_select("olga", "pw")
        await gw.create(client, "Olga")
        await gw.create(client, "Olgina")
        await flow.char_list(client)

        deleted = await _delete(client, 1, "Olgina")
        assert deleted.name == b"Olgina" and 86390 <= deleted.remaining_time <= 86400
        listing = await flow.char_list(client)
        assert [(c.name, c.remain_secs_until_delete > 86000) for c in listing.characters] == [
            (b"Olga", False), (b"Olgina", True),
        ]
        # A character being deleted cannot be played: nothing is sent, the connection stays.
        await client.send(CliSelectCharReq(char_id=1, run_mode=0, ride_mode=0, name=b"Olgina"))
        with pytest.raises(StepTimeout):
            await client.expect(SrvSwitchServer, step="select deleted", timeout=0.5)

        restored = await _delete(client, 1, "Olgina", delete=False)
        assert (restored.name, restored.remaining_time) == (b"Olgina", 0)
        listing = await flow.char_list(client)
        assert [c.remain_secs_until_delete for c in listing.characters] == [0, 0]
        assert (await flow.select_character(client, 1, "Olgina")).port == gw.port


async def test_delete_without_delay_removes_the_character_from_the_list(
    start_gateway: StartGateway,
) -> None:
    async with start_gateway(CHARACTER_DELETE_DELAY=0) as gw:
        await gw.account("pete", "pw")
        client, _ = await gw.character_select("pete", "pw")
        await gw.create(client, "Pete")
        await gw.create(client, "Petra")
        await flow.char_list(client)
        deleted = await _delete(client, 0, "Pete")
        assert (deleted.name, deleted.remaining_time) == (b"Pete", 0)
        listing = await flow.char_list(client)
        assert [c.name for c in listing.characters] == [b"Petra"]
        # The remaining character moved up to index 0, in the list and in requests.
        assert (await flow.select_character(client, 0, "Petra")).session_id != 0


async def test_selecting_a_character_that_does_not_exist_closes_the_connection(
    start_gateway: StartGateway,
) -> None:
    async with start_gateway() as gw:
        await gw.account("quinn", "pw")
        client, _ = await gw.character_select("quinn", "pw")
        await flow.char_list(client)
        await client.send(CliSelectCharReq(char_id=5, run_mode=0, ride_mode=0, name=b"Ghost"))
        with pytest.raises(ConnectionClosed):
            await client.receive(timeout=2.0)


async def test_a_character_service_that_is_down_gets_an_empty_list_and_failed_create(
    start_gateway: StartGateway,
) -> None:
    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{sock.getsockname()[1]}"
    async with start_gateway(CHARACTER_SERVICE_ADDR=dead) as gw:
        await gw.account("rita", "pw")
        client, _ = await gw.character_select("rita", "pw")
        assert (await flow.char_list(client)).characters == ()
        assert (await flow.create_character(client, "Rita")).result is CreateCharResult.FAILED
        assert (await flow.create_character(client, "Rita")).result is CreateCharResult.FAILED
