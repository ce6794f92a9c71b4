"""``PAKCS_LOGIN_TOKEN_REQ`` gets a defined answer (docs/protocol.md §10.14): the protocol
defines no token the auth service could check, so it is refused with
``PAKLC_LOGIN_REPLY { FAILED }``, logged and counted, and the connection can still log in with
a password. In numbering 2021 the type does not exist and nothing is registered."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import pytest
from gateway_auth.tokens import METRIC

from gateway_core.bot import steps as flow
from gateway_core.plugins import GatewayPluginManager
from gateway_core.protocol import get_profile
from gateway_core.protocol.packets import CliLoginTokenReq, LoginResult, SrvLoginReply
from gateway_core.testing import GATEWAY_TEST_SETTINGS, RunningGateway, running_gateway

pytestmark = pytest.mark.anyio


def _running(
    tmp_path: Path, cipher: str
) -> contextlib.AbstractAsyncContextManager[RunningGateway]:
    settings = {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path / "data"), "CIPHER": cipher}
    return running_gateway(settings, lambda g, host, port: RunningGateway(g, host, port, cipher))


@pytest.mark.parametrize("cipher", ["plain", "rosecrypt"])
async def test_a_token_login_is_refused_and_a_password_login_still_works(
    tmp_path: Path, cipher: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with _running(tmp_path, cipher) as gw:
        await gw.account("tokenuser", "secret")
        client = await gw.connect()
        with caplog.at_level(logging.INFO, logger="gateway.auth"):
            await client.send(CliLoginTokenReq(token=b"some-opaque-token"))
            reply = await client.expect(SrvLoginReply, step="token login")
        assert reply.result is LoginResult.FAILED and reply.servers_info == ()
        assert any("PAKCS_LOGIN_TOKEN_REQ refused" in r.getMessage() for r in caplog.records)
        labels = {"packet": "PAKCS_LOGIN_TOKEN_REQ"}
        assert gw.sample(f"{METRIC}_total", labels) == 1.0

        # Still connected, still before login: a password login succeeds on the same leg.
        assert not client.closed
        login = await flow.login(client, "tokenuser", "secret")
        assert login.result is LoginResult.OK

        # After the login the token request is out of state (dropped by the router, §10.6).
        await client.send(CliLoginTokenReq(token=b"again"))
        await flow.channel_list(client, login.servers_info[0].id)  # answered after it
        assert client.unexpected_counts["PAKLC_LOGIN_REPLY"] == 0
        assert gw.sample(f"{METRIC}_total", labels) == 1.0


async def test_an_empty_token_is_refused_the_same_way(tmp_path: Path) -> None:
    async with _running(tmp_path, "plain") as gw:
        client = await gw.connect()
        await client.send(CliLoginTokenReq())
        reply = await client.expect(SrvLoginReply, step="token login")
        assert reply.result is LoginResult.FAILED


@pytest.mark.parametrize(("profile", "registered"), [("2026", True), ("2021", False)])
def test_the_handler_is_registered_only_where_the_type_exists(
    profile: str, registered: bool
) -> None:
    pm = GatewayPluginManager()
    pm.load_plugins(load=["auth"], builtins=False)
    pm.collect_registrations(get_profile(profile))
    assert ("PAKCS_LOGIN_TOKEN_REQ" in pm.packet_handlers) is registered
    assert "PAKCS_LOGIN_REQ" in pm.packet_handlers
    if registered:
        assert pm.packet_handlers["PAKCS_LOGIN_TOKEN_REQ"].plugin == "auth"
