"""Every login result code and the refusals of the login leg and of joins (docs/protocol.md §7.2,
§7.3 step 3, §8)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from gateway_protos.v1 import auth_pb2

from gateway_core.bot import ConnectionClosed, StepTimeout
from gateway_core.bot import steps as flow
from gateway_core.protocol.packets import (
    CliChannelListReq,
    CliJoinServerReq,
    CliLoginReq,
    JoinResult,
    LoginResult,
    ServerSelectResult,
    SrvJoinServerReply,
    SrvLoginReply,
)

StartGateway = Any  # the start_gateway fixture (tests/e2e/conftest.py)

pytestmark = pytest.mark.anyio


async def test_login_answers_each_result_code(start_gateway: StartGateway) -> None:
    async with start_gateway() as gw:
        await gw.account("erin", "right")
        await gw.account("frank", "pw")
        await gw.account("zero", "pw", access_level=0)

        unknown = await flow.login(await gw.connect(), "nobody", "pw")
        assert (unknown.result, unknown.servers_info) == (LoginResult.UNKNOWN_ACCOUNT, ())
        wrong = await flow.login(await gw.connect(), "erin", "wrong")
        assert (wrong.result, wrong.servers_info) == (LoginResult.INVALID_PASSWORD, ())

        first = await gw.connect()
        assert (await flow.login(first, "erin", "right")).result is LoginResult.OK
        twice = await flow.login(await gw.connect(), "erin", "right")
        assert (twice.result, twice.servers_info) == (LoginResult.ALREADY_LOGGEDIN, ())

        # Below access level 1, and banned: refused, then the connection is closed.
        for name in ("zero", "frank"):
            if name == "frank":
                await gw.auth.SetBanned(auth_pb2.SetBannedRequest(username="frank", banned=True))
            client = await gw.connect()
            refused = await flow.login(client, name, "pw")
            assert refused.result is LoginResult.NO_RIGHT_TO_CONNECT
            with pytest.raises(ConnectionClosed):
                await client.receive(timeout=2.0)


async def test_login_is_refused_while_an_unselected_login_is_open_then_freed_on_close(
    start_gateway: StartGateway,
) -> None:
    async with start_gateway() as gw:
        await gw.account("gina", "pw")
        first = await gw.connect()
        assert (await flow.login(first, "gina", "pw")).result is LoginResult.OK
        await first.aclose()  # before server select: the session ends at once
        with anyio.fail_after(5):
            while (await flow.login(await gw.connect(), "gina", "pw")).result is not \
                    LoginResult.OK:
                await anyio.sleep(0.05)


async def test_second_login_on_one_connection_is_ignored(start_gateway: StartGateway) -> None:
    async with start_gateway() as gw:
        await gw.account("hank", "pw")
        client = await gw.connect()
        assert (await flow.login(client, "hank", "pw")).result is LoginResult.OK
        await client.send(CliLoginReq(password=flow.hash_password("pw").encode(),
                                      username=b"hank"))
        with pytest.raises(StepTimeout):
            await client.expect(SrvLoginReply, step="second login", timeout=0.5)
        assert (await flow.channel_list(client, 1)).channels  # the connection goes on


async def test_requests_before_login_close_the_connection(start_gateway: StartGateway) -> None:
    async with start_gateway() as gw:
        client = await gw.connect()
        await client.send(CliChannelListReq(server_id=1))
        with pytest.raises(ConnectionClosed):
            await client.receive(timeout=2.0)


async def test_server_select_of_an_unknown_world_or_channel_fails(
    start_gateway: StartGateway,
) -> None:
    async with start_gateway() as gw:
        await gw.account("ivy", "pw")
        client = await gw.connect()
        await flow.login(client, "ivy", "pw")
        assert (await flow.channel_list(client, 99)).channels == ()
        assert (await flow.select_server(client, 99, 1)).result is ServerSelectResult.FAILED
        bad_channel = await flow.select_server(client, 1, 9)
        assert bad_channel.result is ServerSelectResult.INVALID_CHANNEL
        assert (await flow.select_server(client, 1, 1)).result is ServerSelectResult.OK


async def test_join_with_a_forged_ended_or_expired_session_is_refused(
    start_gateway: StartGateway,
) -> None:
    async with start_gateway(AUTH_SESSION_TTL=0.5, SESSION_GRACE=30.0) as gw:
        await gw.account("jack", "pw")
        await gw.account("kate", "pw")
        forged = await flow.join(await gw.connect(), 0x1234ABCD, "pw")
        assert (forged.result, forged.id) == (JoinResult.INVALID_PASSWORD, 0)

        # The right session id with the wrong password, or a malformed password field.
        selected = await gw.select_server("jack", "pw")
        wrong = await flow.join(await gw.connect(), selected.session_id, "other")
        assert wrong.result is JoinResult.INVALID_PASSWORD
        client = await gw.connect()
        await client.send(CliJoinServerReq(session_id=selected.session_id, password=b"x"))
        bad = await client.expect(SrvJoinServerReply, step="malformed")
        assert bad.result is JoinResult.INVALID_PASSWORD

        # Ended by a logout.
        char_leg = await gw.connect()
        assert (await flow.join(char_leg, selected.session_id, "pw")).result is JoinResult.OK
        await flow.logout(char_leg)
        ended = await flow.join(await gw.connect(), selected.session_id, "pw")
        assert ended.result is JoinResult.INVALID_PASSWORD

        # Expired: nobody carried it for longer than AUTH_SESSION_TTL.
        expiring = await gw.select_server("kate", "pw")
        await anyio.sleep(0.8)
        expired = await flow.join(await gw.connect(), expiring.session_id, "pw")
        assert expired.result is JoinResult.INVALID_PASSWORD


async def test_an_open_connection_keeps_its_session_alive_past_the_ttl(
    start_gateway: StartGateway,
) -> None:
    async with start_gateway(AUTH_SESSION_TTL=0.6) as gw:
        await gw.account("liam", "pw")
        char_leg, session_id = await gw.character_select("liam", "pw")
        await anyio.sleep(1.5)
        assert (await flow.char_list(char_leg)).characters == ()
        again = await flow.join(await gw.connect(), session_id, "pw")
        assert again.result is JoinResult.OK
