"""GM chat commands end to end: real gateways with the built-in plugins, real TCP clients.

A line typed in normal chat that starts with ``/`` never reaches the other players: a GM (an
account whose access level is high enough) runs the command; a player, an unknown command or
bad arguments get a whisper from ``server msg``. Two gateways share one set of services (the
second points every ``<SERVICE>_SERVICE_ADDR`` at the first's embedded services) for the
commands that reach every gateway: ``/announce``, ``/kick`` and the ban of an account.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from gateway_protos.v1 import auth_pb2

from gateway_core.api import CHARACTER_PROGRESS
from gateway_core.bot import GameClient
from gateway_core.bot import steps as flow
from gateway_core.protocol.packets import (
    CliNormalChat,
    SrvAnnounceChat,
    SrvLevelup,
    SrvNormalChat,
    SrvSetHpAndMp,
    SrvSetItem,
    SrvSetMoney,
    SrvWhisperChat,
)
from gateway_core.testing import GATEWAY_TEST_SETTINGS, RunningGateway, running_gateway

pytestmark = pytest.mark.anyio

TIMEOUT = 5.0
GM = 200
SERVICES = ("auth", "character", "chat", "world")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Gateway(RunningGateway):
    """A running gateway; :meth:`enter` walks a new account (of any access level) in."""

    async def enter(self, name: str, *, access: int = 1) -> tuple[GameClient, int]:
        """Account ``name.lower()`` at ``access``, its character ``name`` in the world and on
        its map: the world connection and its object id."""
        world, object_id = await self.join_world(name, access_level=access)
        await flow.change_map(world)
        return world, object_id


@contextlib.asynccontextmanager
async def gateways(tmp_path: Path, count: int = 1, **settings: object) -> AsyncIterator[
        list[Gateway]]:
    """``count`` gateways on one set of services (embedded in the first)."""
    base: dict[str, object] = {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path),
                               "CHAT_RECONNECT_MAX_DELAY": 0.5, **settings}
    async with contextlib.AsyncExitStack() as stack:
        first = await stack.enter_async_context(
            running_gateway({**base, "GATEWAY_ID": "gw-0"}, Gateway))
        running = [first]
        assert first.gateway.service_host is not None
        address = first.gateway.service_host.address
        for index in range(1, count):
            remote = {f"{s.upper()}_SERVICE_ADDR": address for s in SERVICES}
            running.append(await stack.enter_async_context(
                running_gateway({**base, **remote, "GATEWAY_ID": f"gw-{index}"}, Gateway)))
        yield running


async def say(client: GameClient, text: str) -> None:
    await client.send(CliNormalChat(message=text.encode()))


async def whisper(client: GameClient) -> str:
    """The next whisper from ``server msg``."""
    packet = await client.expect(SrvWhisperChat, step="server whisper", timeout=TIMEOUT,
                                 match=lambda p: p.sender == b"server msg")
    return packet.message.decode()


async def heard(client: GameClient, text: str, *, prefix: bool = False) -> str:
    """Wait for the whisper from ``server msg`` saying ``text`` (or starting with it); the
    server's other whispers meanwhile are skipped."""
    wire = text.encode()

    def match(packet: SrvWhisperChat) -> bool:
        return packet.sender == b"server msg" and (
            packet.message.startswith(wire) if prefix else packet.message == wire)

    packet = await client.expect(SrvWhisperChat, step=f"whisper {text!r}", timeout=TIMEOUT,
                                 match=match)
    return packet.message.decode()


def chat_lines(events: list[Any]) -> list[bytes]:
    return [e.message for e in events if isinstance(e, SrvNormalChat)]


def sample(running: Gateway, command: str, outcome: str) -> float:
    return running.sample("gateway_chat_commands_total",
                          {"command": command, "outcome": outcome})


async def closed_within(client: GameClient, seconds: float) -> float:
    """Seconds until the server closed ``client`` (fails after ``seconds``)."""
    start = time.monotonic()
    with anyio.fail_after(seconds):
        await client.drain(seconds + 1)
    assert client.closed
    return time.monotonic() - start


# -- core: /help, unknown, refused ------------------------------------------------------------


async def test_help_lists_what_the_caller_may_use(tmp_path: Path) -> None:
    async with gateways(tmp_path) as (running,):
        gm, _ = await running.enter("Keeper", access=GM)
        player, _ = await running.enter("Player")
        await say(player, "/help")
        await heard(player, "Commands you may use:")
        await heard(player, "/help: the commands you may use")
        assert chat_lines(await player.drain(0.2)) == []
        await say(gm, "/HELP")
        await heard(gm, "Commands you may use:")
        listed = [await whisper(gm) for _ in range(11)]
        names = [line.split()[0].rstrip(":") for line in listed]
        assert names == ["/announce", "/goto", "/heal", "/help", "/item", "/kick", "/level",
                         "/summon", "/tp", "/where", "/zuly"]
        assert "/zuly N | +N: set your money to N, or add N" in listed
        assert sample(running, "help", "ok") == 2


async def test_player_is_refused_and_nobody_hears_the_line(tmp_path: Path) -> None:
    async with gateways(tmp_path) as (running,):
        gm, _ = await running.enter("Keeper", access=GM)
        player, _ = await running.enter("Player")
        await gm.drain(0.2)
        # Every command but /help needs the GM level; each refusal is a whisper of its own.
        refused = ("/zuly 100", "/item 10 1 5", "/level 42", "/heal", "/tp 22 5200 5200",
                   "/goto Keeper", "/summon Keeper", "/where", "/announce hi", "/kick Keeper")
        for line in refused:
            await say(player, line)
            await heard(player, f"You are not allowed to use {line.split()[0]}.")
        await say(player, "/nosuchthing 1 2")
        await heard(player, "Unknown command /nosuchthing. Type /help for the commands you "
                            "may use.")
        # Nothing reached the GM standing next to the player (normal chat would have).
        assert chat_lines(await gm.drain(0.3)) == []
        assert not [e for e in gm.unexpected if isinstance(e, SrvSetMoney)]
        for line in refused:
            assert sample(running, line.split()[0][1:], "denied") == 1
        assert not [e for e in player.unexpected if isinstance(e, (SrvSetMoney, SrvSetItem))]
        assert sample(running, "unknown", "unknown") == 1
        # Ordinary chat still works, through the world plugin.
        await say(player, "hello")
        packet = await gm.expect(SrvNormalChat, step="chat", timeout=TIMEOUT)
        assert packet.message == b"hello"


async def test_levels_setting_overrides_the_registered_level(tmp_path: Path) -> None:
    async with gateways(tmp_path, GM_COMMAND_LEVELS="zuly=0,heal=300") as (running,):
        player, _ = await running.enter("Player")
        await say(player, "/zuly 5")
        assert (await player.expect(SrvSetMoney, step="money", timeout=TIMEOUT)).zuly == 5
        gm, _ = await running.enter("Keeper", access=GM)
        await say(gm, "/heal")
        await heard(gm, "You are not allowed to use /heal.")


# -- character and world: /zuly, /level, /heal, /item ---------------------------------------


async def test_character_commands_change_the_loaded_character(tmp_path: Path) -> None:
    async with gateways(tmp_path) as (running,):
        gm, object_id = await running.enter("Keeper", access=GM)
        await say(gm, "/zuly 1000")
        assert (await gm.expect(SrvSetMoney, step="set", timeout=TIMEOUT)).zuly == 1000
        await say(gm, "/zuly +234")
        assert (await gm.expect(SrvSetMoney, step="add", timeout=TIMEOUT)).zuly == 1234
        await say(gm, "/level 42")
        level = await gm.expect(SrvLevelup, step="level", timeout=TIMEOUT)
        assert (level.id, level.level, level.exp) == (object_id, 42, 0)
        await say(gm, "/heal")
        await heard(gm, "Healed.")
        healed = [p for p in gm.unexpected if isinstance(p, SrvSetHpAndMp)][-1]
        progress = running.gateway.connections.by_character_name("Keeper").records.require(
            CHARACTER_PROGRESS)
        assert (healed.id, healed.hp, healed.mp) == (object_id, progress.max_hp, progress.max_mp)
        await say(gm, "/item 10 1 5")  # five small healing potions of the default pack
        given = await gm.expect(SrvSetItem, step="item", timeout=TIMEOUT)
        assert [(i.item.header.type, i.item.header.id) for i in given.items] == [(10, 1)]
        await heard(gm, "Item 10:1 x5 given.")
        await say(gm, "/item 10 999")  # not in the pack: refused, nothing changes
        await heard(gm, "No item given:", prefix=True)
        assert sample(running, "item", "refused") == 1
        # Saved when it leaves the world: the stored character has the new money and level.
        await gm.aclose()
        character = running.gateway.clients["character"]
        from gateway_protos.v1 import character_pb2
        with anyio.fail_after(TIMEOUT):
            while True:
                listing = await character.ListCharacters(
                    character_pb2.ListCharactersRequest(account_id=1))
                if listing.characters and listing.characters[0].level == 42:
                    break
                await anyio.sleep(0.02)
        state = await character.GetCharacter(
            character_pb2.GetCharacterRequest(character_id=listing.characters[0].id))
        assert (state.money, state.level) == (1234, 42)


@pytest.mark.parametrize("line", [
    "/zuly", "/zuly -5", "/zuly abc", "/zuly 99999999999999999999999", "/zuly 1 2",
    "/zuly +9223372036854775807", "/level 0", "/level 251", "/level", "/level x",
    "/heal now", "/zuly " + "9" * 300,
])
async def test_bad_arguments_get_the_usage_and_change_nothing(tmp_path: Path, line: str) -> None:
    async with gateways(tmp_path) as (running,):
        gm, _ = await running.enter("Keeper", access=GM)
        await say(gm, "/zuly 10")
        await gm.expect(SrvSetMoney, step="set", timeout=TIMEOUT)
        await say(gm, line)
        await heard(gm, f"Usage: {line.split()[0]}", prefix=True)
        await say(gm, "/zuly +0")
        assert (await gm.expect(SrvSetMoney, step="check", timeout=TIMEOUT)).zuly == 10
        assert not [e for e in gm.unexpected if isinstance(e, SrvLevelup)]
        assert sample(running, line.split()[0][1:], "bad_args") == 1


# -- chat: /announce, /kick, CLI, ban ---------------------------------------------------------


async def test_announce_reaches_every_player_on_two_gateways(tmp_path: Path) -> None:
    async with gateways(tmp_path, 2) as (a, b):
        gm, _ = await a.enter("Keeper", access=GM)
        here, _ = await a.enter("Alice")
        there, _ = await b.enter("Bob")
        await say(gm, "/announce Server restart in 5 minutes")
        for client in (gm, here, there):
            packet = await client.expect(SrvAnnounceChat, step="announce", timeout=TIMEOUT)
            assert packet.message == b"Server restart in 5 minutes"
            assert packet.name == b"Keeper"
        await say(gm, "/announce")
        await heard(gm, "Usage: /announce TEXT")


async def test_kick_closes_the_connection_on_the_other_gateway(tmp_path: Path) -> None:
    async with gateways(tmp_path, 2) as (a, b):
        gm, _ = await a.enter("Keeper", access=GM)
        there, _ = await b.enter("Bob")
        await say(gm, "/kick bob")
        await heard(gm, "Kicked Bob.")
        await closed_within(there, TIMEOUT)
        await say(gm, "/kick Nobody")
        await heard(gm, "Nobody is not online.")
        await say(gm, "/kick")
        await heard(gm, "Usage: /kick NAME")


async def test_ban_closes_every_connection_of_the_account_within_a_second(
        tmp_path: Path) -> None:
    async with gateways(tmp_path, 2) as (a, b):
        there, _ = await b.enter("Bob")
        await anyio.sleep(0.2)  # the keepers' ban streams are open
        await a.auth.SetBanned(auth_pb2.SetBannedRequest(username="bob", banned=True))
        assert await closed_within(there, 1.0) < 1.0


# -- the command line: gateway announce / kick / account ban, against the shared services ------


async def gateway_cli(running: Gateway, tmp_path: Path, *argv: str) -> tuple[int, str, str]:
    """Run ``gateway ARGV...`` in a subprocess pointed at the shared services."""
    assert running.gateway.service_host is not None
    address = running.gateway.service_host.address
    env = {**{k: v for k, v in os.environ.items() if not k.endswith("_SERVICE_ADDR")},
           **{f"{s.upper()}_SERVICE_ADDR": address for s in SERVICES},
           "DATA_DIR": str(tmp_path / "cli"), "GATEWAY_LOAD_PLUGINS": "auth,character,chat,world"}
    with anyio.fail_after(60):
        done = await anyio.run_process([sys.executable, "-m", "gateway_core", *argv], env=env,
                                       check=False)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


@pytest.mark.slow
async def test_cli_announce_and_kick_reach_every_gateway(tmp_path: Path) -> None:
    async with gateways(tmp_path, 2) as (a, b):
        here, _ = await a.enter("Alice")
        there, _ = await b.enter("Bob")
        code, out, err = await gateway_cli(a, tmp_path, "announce", "Maintenance", "soon")
        assert (code, out.strip()) == (0, "announced to 2 player(s)"), err
        for client in (here, there):
            packet = await client.expect(SrvAnnounceChat, step="announce", timeout=TIMEOUT)
            assert (packet.message, packet.name) == (b"Maintenance soon", b"Server")
        code, out, err = await gateway_cli(a, tmp_path, "kick", "BOB")
        assert (code, out.strip()) == (0, "kicked Bob"), err
        await closed_within(there, TIMEOUT)
        code, out, err = await gateway_cli(a, tmp_path, "kick", "Bob")
        assert code == 1 and "Bob is not online" in err
        assert not here.closed


@pytest.mark.slow
async def test_cli_ban_closes_the_connections_on_every_gateway_within_a_second(
        tmp_path: Path) -> None:
    async with gateways(tmp_path, 2) as (a, b):
        there, _ = await b.enter("Bob")
        other, _ = await a.enter("Alice")
        code, out, err = await gateway_cli(a, tmp_path, "account", "ban", "bob")
        assert (code, out.strip()) == (0, "banned bob"), err
        assert await closed_within(there, 1.0) < 1.0
        assert not other.closed


async def test_a_gm_change_is_stored_at_once(tmp_path: Path) -> None:
    from gateway_protos.v1 import character_pb2

    async with gateways(tmp_path) as (running,):
        gm, _ = await running.enter("Keeper", access=GM)
        await say(gm, "/zuly 777")
        assert (await gm.expect(SrvSetMoney, step="set", timeout=TIMEOUT)).zuly == 777
        # Still in the world (a gateway killed now would save nothing more): already stored.
        character = running.gateway.clients["character"]
        listing = await character.ListCharacters(character_pb2.ListCharactersRequest(account_id=1))
        state = await character.GetCharacter(
            character_pb2.GetCharacterRequest(character_id=listing.characters[0].id))
        assert state.money == 777
