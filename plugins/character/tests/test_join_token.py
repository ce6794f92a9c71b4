"""``PAKCS_JOIN_SERVER_TOKEN_REQ`` gets a defined answer (docs/protocol.md §10.14): the protocol
defines no token the auth service could check, so it is refused with
``PAKSC_JOIN_SERVER_REPLY { FAILED }``, logged and counted, and the connection can still join
with the session id and password. In numbering 2021 the type does not exist and nothing is
registered."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from gateway_character.tokens import METRIC

from gateway_core.bot import steps as flow
from gateway_core.plugins import GatewayPluginManager
from gateway_core.protocol import get_profile
from gateway_core.protocol.packets import (
    CliJoinServerTokenReq,
    JoinResult,
    LoginResult,
    SrvJoinServerReply,
)
from gateway_core.testing import GATEWAY_TEST_SETTINGS, RunningGateway, running_gateway

pytestmark = pytest.mark.anyio

LABELS = {"packet": "PAKCS_JOIN_SERVER_TOKEN_REQ"}


@pytest.mark.parametrize("cipher", ["plain", "rosecrypt"])
async def test_a_token_join_is_refused_and_a_password_join_still_works(
    tmp_path: Path, cipher: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path / "data"), "CIPHER": cipher}
    async with running_gateway(
        settings, lambda g, host, port: RunningGateway(g, host, port, cipher)
    ) as gw:
        await gw.account("joiner", "secret")
        login_leg = await gw.connect()
        assert (await flow.login(login_leg, "joiner", "secret")).result is LoginResult.OK
        selected = await flow.select_server(login_leg, 1, 1)
        await login_leg.aclose()

        char_leg = await gw.connect(selected.ip.decode(), selected.port)
        with caplog.at_level(logging.INFO, logger="gateway.character"):
            await char_leg.send(
                CliJoinServerTokenReq(session_id=selected.session_id, token=b"opaque")
            )
            reply = await char_leg.expect(SrvJoinServerReply, step="token join")
        assert reply.result is JoinResult.FAILED and reply.id == 0
        assert any("PAKCS_JOIN_SERVER_TOKEN_REQ" in r.getMessage() and "refused" in
                   r.getMessage() for r in caplog.records)
        assert gw.sample(f"{METRIC}_total", LABELS) == 1.0

        # The session is untouched and the connection open: the password join succeeds.
        assert not char_leg.closed
        joined = await flow.join(char_leg, selected.session_id, "secret")
        assert joined.result is JoinResult.OK and joined.id != 0
        assert (await flow.char_list(char_leg)).characters == ()

        # Joined now: a later token join is out of state (dropped by the router, §10.6).
        await char_leg.send(CliJoinServerTokenReq(session_id=selected.session_id))
        await flow.char_list(char_leg)  # answered after it
        assert char_leg.unexpected_counts["PAKSC_JOIN_SERVER_REPLY"] == 0
        assert gw.sample(f"{METRIC}_total", LABELS) == 1.0


@pytest.mark.parametrize(("profile", "registered"), [("2026", True), ("2021", False)])
def test_the_handler_is_registered_only_where_the_type_exists(
    profile: str, registered: bool
) -> None:
    pm = GatewayPluginManager()
    pm.load_plugins(load=["character"], builtins=False)
    pm.collect_registrations(get_profile(profile))
    assert ("PAKCS_JOIN_SERVER_TOKEN_REQ" in pm.packet_handlers) is registered
    assert pm.packet_handlers["PAKCS_JOIN_SERVER_REQ"].plugin == "character"
    if registered:
        assert pm.packet_handlers["PAKCS_JOIN_SERVER_TOKEN_REQ"].plugin == "character"
