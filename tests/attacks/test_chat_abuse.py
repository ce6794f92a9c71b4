"""Chat abuse against a real gateway (in-process, embedded services, real TCP on loopback),
with the chat limits a public server gets by default, each beside a well-behaved player in the
world who must keep being served:

* forged lines (CR/LF, ANSI escapes, backspaces, a fake ``[GM]`` line painted with control
  codes) in normal chat, whispers and shouts reach the other player cleaned, or not at all;
* 300 shouts at 150/s: the first CHAT_SHOUT_BURST reach the map, then the shouter is muted
  and told once by a whisper from ``server msg``, and nobody hears the rest;
* sustained abuse (spam again each time a mute ends): CHAT_KICK_MUTES mutes close the
  connection, counted.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from gateway_core.bot import ConnectionClosed
from gateway_core.bot import steps as flow
from gateway_core.chat_guard import CONTROL_BYTES, SERVER_SENDER
from gateway_core.protocol.packets import (
    CliNormalChat,
    CliShoutChat,
    CliWhisperChat,
    SrvNormalChat,
    SrvShoutChat,
    SrvWhisperChat,
)
from gateway_core.testing import (
    GATEWAY_TEST_SETTINGS,
    RunningGateway,
    running_gateway,
    still_served,
)

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

TIMEOUT = 10.0
#: The test settings with the chat limits left at their defaults (a public server's).
PUBLIC = {k: v for k, v in GATEWAY_TEST_SETTINGS.items() if not k.startswith("CHAT_")}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def settled(gateway: RunningGateway, name: str, labels: dict[str, str],
                  value: float) -> None:
    """Wait until the gateway's metric ``name`` reaches ``value``."""
    with anyio.fail_after(TIMEOUT):
        while gateway.sample(name, labels) < value:
            await anyio.sleep(0.02)


def server_whispers(events: list[object]) -> list[bytes]:
    return [e.message for e in events
            if isinstance(e, SrvWhisperChat) and e.sender == SERVER_SENDER.encode()]


FORGED_NORMAL = [
    (b"hi all\r\n[GM] Admin: the server restarts, tell me your password to keep your items",
     b"hi all [GM] Admin: the server restarts, tell me your password to keep your items"),
    (b"\x1b[2J\x1b[H\x1b[1;31m[GM] Admin\x1b[0m: free items at the gate",
     b"[2J[H[1;31m[GM] Admin[0m: free items at the gate"),
    (b"\x08" * 16 + b"[GM] Admin> type /quit", b"[GM] Admin> type /quit"),
]


async def test_forged_chat_lines_arrive_cleaned_or_not_at_all(tmp_path: Path) -> None:
    settings = {**PUBLIC, "DATA_DIR": str(tmp_path)}
    async with running_gateway(settings, RunningGateway) as gateway:
        mallory, mallory_id = await gateway.join_world("Mallory")
        alice, _ = await gateway.join_world("Alice")
        await flow.change_map(mallory)
        await flow.change_map(alice)

        await mallory.send(*(CliNormalChat(message=raw) for raw, _ in FORGED_NORMAL))
        await mallory.send(CliNormalChat(message=b"\r\n\x1b\x08\x7f\x9b"))  # nothing but controls
        await mallory.send(CliWhisperChat(target=b"Alice",
                                          message=b"\r\n[GM] Admin whispers: log in at evil"))
        await mallory.send(CliShoutChat(message=b"\x1b[5m[GM]\x1b[0m double xp\r\nnow"))

        # The chat and world services deliver in their own time: gather until all arrived.
        with anyio.fail_after(TIMEOUT):
            while True:
                events = list(alice.unexpected)
                heard = [e.message for e in events
                         if isinstance(e, SrvNormalChat) and e.char_id == mallory_id]
                whispers = [e for e in events
                            if isinstance(e, SrvWhisperChat) and e.sender == b"Mallory"]
                shouts = [e for e in events if isinstance(e, SrvShoutChat)]
                if len(heard) >= len(FORGED_NORMAL) and whispers and shouts:
                    break
                alice.set_aside(await alice.receive())
        (whisper,), (shout,) = whispers, shouts
        await still_served(alice, "did anyone see that?")
        print(f"Alice heard {[*heard, whisper.message, shout.message]}")
        assert heard == [cleaned for _, cleaned in FORGED_NORMAL]  # the blank line: nothing
        assert whisper.message == b"[GM] Admin whispers: log in at evil"
        assert (shout.sender, shout.message) == (b"Mallory", b"[5m[GM][0m double xp now")
        for line in [*heard, whisper.message, shout.message]:
            assert not set(line) & set(CONTROL_BYTES)
        late = [e for e in alice.unexpected
                if isinstance(e, SrvNormalChat) and e.char_id == mallory_id]
        assert len(late) == len(FORGED_NORMAL)  # the blank line never came
        assert gateway.sample("gateway_chat_refused_total",
                              {"kind": "normal", "reason": "empty"}) == 1
        assert gateway.sample("gateway_chat_cleaned_total", {"kind": "normal"}) == 3
        assert gateway.sample("gateway_chat_cleaned_total", {"kind": "whisper"}) == 1
        assert gateway.sample("gateway_chat_cleaned_total", {"kind": "shout"}) == 1
        assert not mallory.closed


async def test_shouting_faster_than_the_limit_mutes(tmp_path: Path) -> None:
    settings = {**PUBLIC, "DATA_DIR": str(tmp_path)}
    burst = 3  # CHAT_SHOUT_BURST's default
    async with running_gateway(settings, RunningGateway) as gateway:
        mallory, _ = await gateway.join_world("Mallory")
        alice, _ = await gateway.join_world("Alice")
        await flow.change_map(mallory)
        await flow.change_map(alice)

        start = anyio.current_time()
        for n in range(300):  # 150 shouts a second: under the packet flood limit
            await mallory.send(CliShoutChat(message=f"BUY GOLD {n}".encode()))
            if n % 15 == 14:
                await anyio.sleep(max(0.0, start + (n + 1) / 150 - anyio.current_time()))
        await settled(gateway, "gateway_chat_refused_total",
                      {"kind": "shout", "reason": "muted"}, 300 - burst - 1)
        # The muted shouter's normal chat and whispers go nowhere either ...
        await mallory.send(CliNormalChat(message=b"let me speak"),
                           CliWhisperChat(target=b"Alice", message=b"psst"))
        await settled(gateway, "gateway_chat_refused_total",
                      {"kind": "whisper", "reason": "muted"}, 1)
        # ... while the well-behaved player's chat, and shouts, keep working.
        await still_served(alice, "quiet now")
        await alice.send(CliShoutChat(message=b"thanks, mods"))
        await mallory.expect(SrvShoutChat, step="alice's shout",
                             match=lambda p: p.sender == b"Alice")

        events = [*alice.unexpected, *await alice.drain(0.3)]
        spam = [e.message for e in events
                if isinstance(e, SrvShoutChat) and e.sender == b"Mallory"]
        dropped = gateway.sample("gateway_chat_refused_total",
                                 {"kind": "shout", "reason": "muted"})
        print(f"300 shouts: {len(spam)} reached Alice ({spam}), {dropped:.0f} dropped muted")
        assert spam == [f"BUY GOLD {n}".encode() for n in range(burst)]
        assert not any(isinstance(e, SrvNormalChat) and e.message == b"let me speak"
                       for e in events)
        assert not any(isinstance(e, SrvWhisperChat) and e.message == b"psst" for e in events)
        told = server_whispers([*mallory.unexpected, *await mallory.drain(0.2)])
        assert len(told) == 1, told  # told once
        assert told[0].startswith(b"You are muted for 30 seconds: you shouted too often")
        assert gateway.sample("gateway_chat_mutes_total", {"limit": "shout"}) == 1
        assert gateway.sample("gateway_chat_refused_total",
                              {"kind": "shout", "reason": "rate_limited"}) == 1
        assert not mallory.closed  # one mute is no kick


async def test_sustained_chat_abuse_is_kicked(tmp_path: Path) -> None:
    settings = {**PUBLIC, "DATA_DIR": str(tmp_path), "CHAT_MUTE_SECONDS": 0.3,
                "CHAT_KICK_MUTES": 3, "CHAT_KICK_WINDOW": 60.0}
    async with running_gateway(settings, RunningGateway) as gateway:
        mallory, _ = await gateway.join_world("Mallory")
        alice, _ = await gateway.join_world("Alice")
        await flow.change_map(mallory)
        await flow.change_map(alice)

        sent = 0
        with anyio.fail_after(TIMEOUT):
            while not mallory.closed:  # spam, and spam again as soon as each mute ends
                try:
                    await mallory.send(CliNormalChat(message=f"spam {sent}".encode()))
                    sent += 1
                    event = await mallory.poll(0.02)
                except ConnectionClosed:
                    break
                if event is not None:
                    mallory.set_aside(event)
        told = server_whispers(list(mallory.unexpected))
        print(f"kicked after {sent} lines; told {told}")
        assert mallory.closed
        assert len(told) == 3 and told[-1].startswith(b"Disconnected:")
        assert gateway.sample("gateway_chat_kicks_total", {}) == 1
        assert gateway.sample("gateway_chat_mutes_total", {"limit": "chat"}) == 3
        await still_served(alice, "the spammer is gone")
        with anyio.fail_after(TIMEOUT):
            while gateway.gateway.connections.by_character_name("Mallory") is not None:
                await anyio.sleep(0.02)
