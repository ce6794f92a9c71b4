"""End-to-end fixtures: real gateways (all built-in plugins, embedded or remote reference
services, SQLite under a tmp dir) driven over real TCP by the bot's building blocks.

``start_gateway(**settings)`` runs an in-process :class:`Gateway` on an ephemeral loopback port
and yields a :class:`Running` handle: ``running.account(name, password)`` creates an account
through the auth service, ``running.connect()`` opens a client connection (closed at the end),
and ``running.character_select(...)`` / ``running.enter_world(...)`` walk the legs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway_core.bot import GameClient
from gateway_core.bot import steps as flow
from gateway_core.protocol.packets import (
    CreateCharResult,
    JoinResult,
    LoginResult,
    ServerSelectResult,
    SrvJoinServerReply,
    SrvSrvSelectReply,
    SrvSwitchServer,
)
from gateway_core.testing import GATEWAY_TEST_SETTINGS, RunningGateway, running_gateway

#: Settings of every end-to-end gateway: loopback, ephemeral port, no metrics port, cheap
#: argon2, short timeouts (:data:`gateway_core.testing.GATEWAY_TEST_SETTINGS`).
E2E_SETTINGS: dict[str, object] = dict(GATEWAY_TEST_SETTINGS)

#: Bound on every single wait of a client.
TIMEOUT = 5.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Running(RunningGateway):
    """A started gateway and the clients a test opened on it."""

    async def select_server(self, username: str, password: str) -> SrvSrvSelectReply:
        """Login leg: login, channel list, server select; the login connection is closed."""
        client = await self.connect()
        reply = await flow.login(client, username, password)
        assert reply.result is LoginResult.OK, reply
        server_id = reply.servers_info[0].id
        channels = await flow.channel_list(client, server_id)
        selected = await flow.select_server(client, server_id, channels.channels[0].id)
        assert selected.result is ServerSelectResult.OK, selected
        await client.aclose()
        return selected

    async def character_select(
        self, username: str, password: str
    ) -> tuple[GameClient, int]:
        """Login leg then character leg: the joined character connection and session id."""
        selected = await self.select_server(username, password)
        client = await self.connect(selected.ip.decode(), selected.port)
        joined = await flow.join(client, selected.session_id, password)
        assert joined.result is JoinResult.OK and joined.id != 0, joined
        return client, selected.session_id

    async def create(self, client: GameClient, name: str) -> None:
        """Create a character, which must succeed."""
        reply = await flow.create_character(client, name)
        assert reply.result is CreateCharResult.OK, reply

    async def select(self, client: GameClient, name: str) -> SrvSwitchServer:
        """List, then select ``name``; returns the switch to the world endpoint."""
        listing = await flow.char_list(client)
        found = flow.find_character(listing, name)
        assert found is not None, listing
        return await flow.select_character(client, found[0], name)

    async def enter_world(
        self, switch: SrvSwitchServer, password: str
    ) -> tuple[GameClient, SrvJoinServerReply, flow.InitialData]:
        """World leg: join and the initial character data, in protocol order."""
        client = await self.connect(switch.ip.decode(), switch.port)
        joined = await flow.join(client, switch.session_id, password)
        assert joined.result is JoinResult.OK, joined
        initial = await flow.receive_initial_data(client)
        return client, joined, initial


StartGateway = Callable[..., contextlib.AbstractAsyncContextManager[Running]]


@pytest.fixture
def start_gateway(tmp_path: Path) -> StartGateway:
    """``async with start_gateway(SETTING=value, ...) as running:`` a gateway with the
    built-in plugins and its data under ``tmp_path`` (shared by every gateway of the test, so a
    second one started later sees what the first stored)."""

    def factory(
        *, cipher: str = "plain", **overrides: object
    ) -> contextlib.AbstractAsyncContextManager[Running]:
        settings = {**E2E_SETTINGS, "DATA_DIR": str(tmp_path / "data"), "CIPHER": cipher,
                    **overrides}
        return running_gateway(
            settings, lambda gateway, host, port: Running(gateway, host, port, cipher)
        )

    return factory
