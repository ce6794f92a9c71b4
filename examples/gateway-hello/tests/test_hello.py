"""gateway-hello's tests, on the fixtures rose-gateway's pytest plugin ships (``live_gateway``,
``game_client``, ``gateway_settings``): a real gateway on 127.0.0.1 with this plugin loaded
from its entry point, and headless clients over real TCP."""

from __future__ import annotations

import pytest
from gateway_hello import greeting

from gateway_core.api import CliChatroomMessage, SrvChatroomMessage
from gateway_core.bot import GameClient
from gateway_core.testing import RunningGateway

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def gateway_settings(gateway_settings: dict[str, object]) -> dict[str, object]:
    """The core's test settings, with this plugin loaded besides the built-in ones."""
    loaded = [name for name in str(gateway_settings["GATEWAY_LOAD_PLUGINS"]).split(",") if name]
    return {**gateway_settings, "GATEWAY_LOAD_PLUGINS": ",".join([*loaded, "hello"]),
            "HELLO_GREETING": "Howdy"}


def test_the_greeting_names_the_sender_and_repeats_the_message() -> None:
    assert greeting("Hello", "alice", b"hi") == b"Hello, alice! You said: hi"
    assert greeting("Hello", None, b"") == b"Hello, stranger! You said: "
    assert len(greeting("Hello", "a", b"x" * 1000)) == 255


async def test_a_connected_client_is_greeted(game_client: GameClient) -> None:
    await game_client.send(CliChatroomMessage(message=b"anyone?"))
    reply = await game_client.expect(SrvChatroomMessage, step="hello", timeout=5)
    assert reply == SrvChatroomMessage(target=0, message=b"Howdy, stranger! You said: anyone?")


async def test_a_player_in_the_world_is_greeted_by_name(live_gateway: RunningGateway) -> None:
    if "world" not in str(live_gateway.gateway.settings.GATEWAY_LOAD_PLUGINS):
        pytest.skip("the built-in plugins are not installed")
    world, _ = await live_gateway.join_world("Greta")
    await world.send(CliChatroomMessage(message=b"hi"))
    reply = await world.expect(SrvChatroomMessage, step="hello", timeout=5)
    assert reply.message == b"Howdy, greta! You said: hi"
