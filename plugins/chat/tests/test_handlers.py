"""The chat plugin's packet handlers, through a real gateway (embedded reference services,
SQLite under a tmp dir) driven over TCP by the bot: whispers by name, the server's answer for
an unknown name, shouts, group chat, refused lines and a chat service that goes away."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
from gateway_chat.delivery import SERVER_SENDER
from gateway_chat.handlers import CHAT_UNAVAILABLE, register_packets
from gateway_chat.runtime import ChatRuntime
from gateway_chat.service import ChatReferenceService

from gateway_core.bot import GameClient
from gateway_core.bot import steps as flow
from gateway_core.protocol.packets import (
    CliAlliedChat,
    CliClanChat,
    CliPartyChat,
    CliShoutChat,
    CliWhisperChat,
    SrvChangeMapReply,
    SrvShoutChat,
    SrvWhisperChat,
)
from gateway_core.service_host import ServiceHost
from gateway_core.testing import (
    GATEWAY_TEST_SETTINGS,
    RunningGateway,
    running_gateway,
    serve_on_loopback,
)

pytestmark = pytest.mark.anyio

TIMEOUT = 5.0
SETTINGS: dict[str, object] = {**GATEWAY_TEST_SETTINGS, "CHAT_RECONNECT_MAX_DELAY": 0.2}


@dataclass
class Player:
    """A bot in the world (map loaded)."""

    name: str
    client: GameClient
    change_map: SrvChangeMapReply

    async def send(self, *packets: object) -> None:
        await self.client.send(*packets)  # type: ignore[arg-type]

    async def whisper_from(self, sender: str, text: str) -> SrvWhisperChat:
        wire_sender, wire = sender.encode(), text.encode()
        return await self.client.expect(
            SrvWhisperChat,
            step="whisper",
            timeout=TIMEOUT,
            match=lambda p: p.sender == wire_sender and p.message == wire,
        )

    async def marker(self, text: str) -> None:
        """Whisper to oneself and wait for it: every earlier line of this player has been
        handled (one connection's packets are handled in order)."""
        await self.send(CliWhisperChat(target=self.name.encode(), message=text.encode()))
        await self.whisper_from(self.name, text)

    def received(self, cls: type[object]) -> list[object]:
        return [e for e in self.client.unexpected if isinstance(e, cls)]


class Running(RunningGateway):
    """A running gateway and the connections a test opened."""

    async def player(self, name: str) -> Player:
        """A new account and character ``name`` that entered the world and loaded its map."""
        client, _ = await self.join_world(name)
        return Player(name, client, await flow.change_map(client))

    @property
    def runtime(self) -> ChatRuntime:
        runtime = self.gateway.runtimes.get("chat")
        assert isinstance(runtime, ChatRuntime)
        return runtime

    def drops(self, reason: str) -> float:
        return self.sample("gateway_chat_drops_total", {"reason": reason})


StartGateway = Callable[..., contextlib.AbstractAsyncContextManager[Running]]


@pytest.fixture
def start_gateway(tmp_path: Path) -> StartGateway:
    def factory(**overrides: object) -> contextlib.AbstractAsyncContextManager[Running]:
        settings = {**SETTINGS, "DATA_DIR": str(tmp_path / "data"), **overrides}
        return running_gateway(settings, Running)

    return factory


@pytest.fixture
async def gw(start_gateway: StartGateway) -> AsyncIterator[Running]:
    async with start_gateway() as running:
        yield running


# --- whisper ------------------------------------------------------------------------------------


async def test_whisper_by_name_reaches_only_the_target(gw: Running) -> None:
    alice = await gw.player("Alice")
    bob = await gw.player("Bob")
    await alice.send(CliWhisperChat(target=b"bob", message=b"psst"))  # names match any case
    got = await bob.whisper_from("Alice", "psst")
    assert got.sender == b"Alice"
    await alice.marker("done")
    assert all(e.message != b"psst" for e in alice.received(SrvWhisperChat))  # type: ignore[attr-defined]


async def test_whisper_to_an_unknown_name_gets_a_server_message(gw: Running) -> None:
    alice = await gw.player("Alice")
    await alice.send(CliWhisperChat(target=b"Nobody", message=b"hello?"))
    notice = await alice.client.expect(SrvWhisperChat, step="unknown", timeout=TIMEOUT)
    assert notice.sender == SERVER_SENDER.encode()
    assert notice.message == b"Nobody is not online."
    # A name no character can have gets the same answer, without asking the service.
    await alice.send(CliWhisperChat(target=b"N" * 40, message=b"hello?"))
    notice = await alice.client.expect(SrvWhisperChat, step="bad name", timeout=TIMEOUT)
    assert notice.sender == SERVER_SENDER.encode() and notice.message.endswith(b"is not online.")


async def test_whisper_to_a_player_who_left_gets_a_server_message(gw: Running) -> None:
    alice = await gw.player("Alice")
    bob = await gw.player("Bob")
    await bob.client.aclose()
    with anyio.fail_after(TIMEOUT):  # the chat service learns Bob is gone
        while "Bob" in [c.name for c in gw.runtime.delivery.hosted.values()]:
            await anyio.sleep(0.01)
    await alice.send(CliWhisperChat(target=b"Bob", message=b"still there?"))
    notice = await alice.client.expect(SrvWhisperChat, step="gone", timeout=TIMEOUT)
    assert (notice.sender, notice.message) == (SERVER_SENDER.encode(), b"Bob is not online.")


async def test_empty_and_oversize_lines_are_refused_and_counted(gw: Running) -> None:
    alice = await gw.player("Alice")
    bob = await gw.player("Bob")
    await alice.send(
        CliWhisperChat(target=b"Bob", message=b""),
        CliWhisperChat(target=b"Bob", message=b"y" * 1901),
        CliShoutChat(message=b""),
        CliClanChat(message=b"z" * 2000),
    )
    await alice.marker("after")
    # The empty lines stop at the core's chat guard (nothing to relay), the oversize ones here.
    assert gw.drops("bad_message") == 2
    assert gw.sample("gateway_chat_refused_total", {"kind": "whisper", "reason": "empty"}) == 1
    assert gw.sample("gateway_chat_refused_total", {"kind": "shout", "reason": "empty"}) == 1
    await bob.marker("mine")
    assert not bob.received(SrvWhisperChat) and not bob.received(SrvShoutChat)


# --- shout and group chat -----------------------------------------------------------------------


async def test_shout_reaches_everyone_on_the_map_including_the_sender(gw: Running) -> None:
    alice = await gw.player("Alice")
    bob = await gw.player("Bob")
    await alice.send(CliShoutChat(message=b"hear ye"))
    for player in (alice, bob):
        shout = await player.client.expect(SrvShoutChat, step="shout", timeout=TIMEOUT)
        assert (shout.sender, shout.message) == (b"Alice", b"hear ye")


async def test_group_chat_without_a_group_is_dropped_and_counted(gw: Running) -> None:
    alice = await gw.player("Alice")
    await alice.send(
        CliClanChat(message=b"clan?"),
        CliAlliedChat(message=b"team?"),
    )
    await alice.marker("after")
    assert (gw.drops("no_clan"), gw.drops("no_team")) == (1, 1)


def test_party_chat_is_left_to_the_party_plugin() -> None:
    """The chat plugin claims whisper, shout, clan and allied chat, not party chat: the party
    service knows the members (plugins/party)."""
    claimed: list[str] = []

    def register(name: str, handler: object, *, states: object) -> None:
        claimed.append(name)

    register_packets(register)  # type: ignore[arg-type]
    assert CliPartyChat.NAME not in claimed
    assert {CliWhisperChat.NAME, CliShoutChat.NAME, CliClanChat.NAME,
            CliAlliedChat.NAME} <= set(claimed)


# --- the chat service goes away -----------------------------------------------------------------


def remote_chat() -> contextlib.AbstractAsyncContextManager[ServiceHost]:
    """The reference chat service on its own loopback gRPC server (stopped by the test)."""
    return serve_on_loopback(ChatReferenceService(), "chat")


async def test_chat_service_down_gets_the_sender_a_server_whisper(
    start_gateway: StartGateway,
) -> None:
    async with (
        remote_chat() as server,
        start_gateway(CHAT_SERVICE_ADDR=server.address) as running,
    ):
        alice = await running.player("Alice")
        await alice.marker("before")
        await server.stop()
        with anyio.fail_after(TIMEOUT):
            while running.runtime.delivery.connected:
                await anyio.sleep(0.01)
        await alice.send(
            CliWhisperChat(target=b"Alice", message=b"anyone?"), CliShoutChat(message=b"anyone?")
        )
        for _ in range(2):
            notice = await alice.client.expect(SrvWhisperChat, step="down", timeout=TIMEOUT)
            assert (notice.sender, notice.message) == (
                SERVER_SENDER.encode(),
                CHAT_UNAVAILABLE.encode(),
            )
        assert running.drops("chat_unavailable") == 2
