"""Connection-level attacks against a real gateway, each beside a well-behaved player in the
world who must keep being served:

* one address holding connections over MAX_CONNECTIONS_PER_IP: the ones over the cap are
  closed at once (before any packet is read), counted and logged once, while other addresses
  connect and play;
* a connect flood from one address is rate-limited (CONNECT_RATE_PER_IP/CONNECT_BURST_PER_IP);
* behind a load balancer speaking the PROXY protocol (v1 and v2 over real TCP), the session,
  the admin endpoint and the limits see the client address the header names; a malformed
  header, a slow one and one from a peer not in PROXY_TRUSTED are refused;
* a gateway process started with a soft limit of 1,024 open files raises it to the hard limit,
  and one whose hard limit is low says so at start-up and refuses, counted and logged, the
  connections beyond its headroom instead of running out of descriptors.

Other client addresses are other loopback addresses (127.0.0.0/8 is all loopback on Linux);
loopback is exempt from the limits by default, so these gateways set CONNECTION_LIMIT_ALLOW
empty.
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import struct
from pathlib import Path

import anyio
import anyio.abc
import pytest

from gateway_core.bot import GameClient
from gateway_core.bot import steps as flow
from gateway_core.protocol.connection import Role, encode_packet
from gateway_core.protocol.packets import (
    AcceptReplyResult,
    CliAcceptReq,
    LoginResult,
    SrvAcceptReply,
)
from gateway_core.protocol.proxy import V2_SIGNATURE
from gateway_core.testing import (
    GATEWAY_TEST_ENV,
    GATEWAY_TEST_SETTINGS,
    RunningGateway,
    running_gateway,
    serve_process,
    still_served,
)

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

PLAYER, HOARDER, OTHER, BALANCER, STRANGER = (
    "127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")
TIMEOUT = 10.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def closed_at_once(stream: anyio.abc.ByteStream, within: float = 2.0) -> bool:
    """True when the server closes ``stream`` without a byte, within ``within`` seconds (it
    was refused); False when it stays open (silent) that long."""
    with anyio.move_on_after(within):
        try:
            data = await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
            return True
        raise AssertionError(f"a refused connection got bytes: {data!r}")
    return False


def refused(gateway: RunningGateway, reason: str) -> float:
    return gateway.sample("gateway_connections_refused_total", {"reason": reason})


async def test_connections_over_the_per_ip_cap_are_refused_while_others_connect(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path),
                "CONNECTION_LIMIT_ALLOW": "", "MAX_CONNECTIONS_PER_IP": 8,
                "CONNECT_RATE_PER_IP": 0}
    async with running_gateway(settings, RunningGateway) as gateway, \
            contextlib.AsyncExitStack() as held:
        walker, _ = await gateway.join_world("Walker")
        await flow.change_map(walker)
        caplog.set_level(logging.WARNING, logger="gateway.server")
        streams = [await held.enter_async_context(
            await anyio.connect_tcp(gateway.host, gateway.port, local_host=HOARDER))
            for _ in range(30)]
        states = [await closed_at_once(s, within=0.3) for s in streams[:8]]
        assert states == [False] * 8  # the first eight are held open
        refused_now = [await closed_at_once(s) for s in streams[8:]]
        assert all(refused_now), refused_now
        assert refused(gateway, "per_ip") == 22
        lines = [r for r in caplog.records
                 if r.name == "gateway.server" and "refused" in r.getMessage()]
        assert len(lines) == 1 and HOARDER in lines[0].getMessage()
        assert "MAX_CONNECTIONS_PER_IP (8)" in lines[0].getMessage()
        # Others are served: a login from another address, the player in the world.
        await gateway.account("other", "pw")
        other = await gateway.connect(source=OTHER)
        assert (await flow.login(other, "other", "pw")).result is LoginResult.OK
        await still_served(walker, "still here")
        # The hoarder gets a connection again once it closes one.
        await streams[0].aclose()
        with anyio.fail_after(TIMEOUT):
            while gateway.gateway.server.limiter.open.get(HOARDER, 0) > 7:
                await anyio.sleep(0.02)
        again = await gateway.connect(source=HOARDER)
        assert not again.closed


async def test_a_connect_flood_from_one_address_is_rate_limited(tmp_path: Path) -> None:
    settings = {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path),
                "CONNECTION_LIMIT_ALLOW": "", "MAX_CONNECTIONS_PER_IP": 0,
                "CONNECT_RATE_PER_IP": 5, "CONNECT_BURST_PER_IP": 10}
    async with running_gateway(settings, RunningGateway) as gateway:
        walker, _ = await gateway.join_world("Walker")
        await flow.change_map(walker)
        with anyio.fail_after(30):
            for _ in range(200):
                stream = await anyio.connect_tcp(gateway.host, gateway.port, local_host=HOARDER)
                await stream.aclose()
        with anyio.fail_after(TIMEOUT):
            while refused(gateway, "rate") + gateway.sample(
                    "gateway_connections_accepted_total", {}) < 200 + 3:
                await anyio.sleep(0.02)
        flood_accepted = gateway.sample("gateway_connections_accepted_total", {}) - 3
        print(f"flood of 200 connects: {flood_accepted:.0f} accepted, "
              f"{refused(gateway, 'rate'):.0f} refused")
        assert refused(gateway, "rate") >= 150
        # Still limited: of 20 more at once, at most the bucket's worth is admitted.
        before = refused(gateway, "rate")
        async with contextlib.AsyncExitStack() as held:
            for _ in range(20):
                await held.enter_async_context(
                    await anyio.connect_tcp(gateway.host, gateway.port, local_host=HOARDER))
            with anyio.fail_after(TIMEOUT):
                while refused(gateway, "rate") + gateway.sample(
                        "gateway_connections_accepted_total", {}) < 200 + 3 + 20:
                    await anyio.sleep(0.02)
            assert refused(gateway, "rate") - before >= 5
        await gateway.account("other", "pw")
        other = await gateway.connect(source=OTHER)  # another address is not limited
        assert (await flow.login(other, "other", "pw")).result is LoginResult.OK
        await still_served(walker, "still here")
        await anyio.sleep(0.5)  # two tokens back
        assert not (await gateway.connect(source=HOARDER)).closed


def v2_header(client: str, port: int, *, local: bool = False) -> bytes:
    block = struct.pack("!4s4sHH", bytes(map(int, client.split("."))),
                        bytes([127, 0, 0, 1]), port, 29000)
    return V2_SIGNATURE + bytes([0x20 if local else 0x21, 0x11]) + \
        struct.pack("!H", len(block)) + block


async def through_balancer(gateway: RunningGateway, header: bytes,
                           source: str = BALANCER) -> GameClient:
    stream = await anyio.connect_tcp(gateway.host, gateway.port, local_host=source)
    await stream.send(header)
    client = GameClient(stream, timeout=gateway.timeout)
    gateway.clients.append(client)
    reply = await flow.accept(client)
    assert reply.result is AcceptReplyResult.ACCEPTED
    return client


def peers(gateway: RunningGateway) -> list[str]:
    return sorted(str(row["peer"]) for row in gateway.gateway.admin_connections())


async def test_proxy_headers_give_the_session_the_client_address(tmp_path: Path) -> None:
    settings = {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path),
                "CONNECTION_LIMIT_ALLOW": "", "MAX_CONNECTIONS_PER_IP": 2,
                "CONNECT_RATE_PER_IP": 0, "PROXY_PROTOCOL": "any",
                "PROXY_TRUSTED": f"{BALANCER}", "PROXY_HEADER_TIMEOUT": 0.5}
    async with running_gateway(settings, RunningGateway) as gateway:
        walker, _ = await gateway.join_world("Walker")  # direct, not through the balancer
        await flow.change_map(walker)
        await gateway.account("alice", "pw")
        v1 = await through_balancer(gateway, b"PROXY TCP4 198.51.100.7 127.0.0.1 40001 "
                                             b"29000\r\n")
        assert (await flow.login(v1, "alice", "pw")).result is LoginResult.OK
        v2 = await through_balancer(gateway, v2_header("198.51.100.7", 40002))
        listed = peers(gateway)
        assert "198.51.100.7:40001" in listed and "198.51.100.7:40002" in listed
        assert not any(p.startswith(BALANCER) for p in listed)
        # The per-address cap counts the client, not the balancer: a third connection of
        # 198.51.100.7 is refused, one of 198.51.100.8 is not.
        stream = await anyio.connect_tcp(gateway.host, gateway.port, local_host=BALANCER)
        async with stream:
            await stream.send(b"PROXY TCP4 198.51.100.7 127.0.0.1 40003 29000\r\n")
            assert await closed_at_once(stream)
        assert refused(gateway, "per_ip") == 1
        other = await through_balancer(gateway, v2_header("198.51.100.8", 40004))
        assert "198.51.100.8:40004" in peers(gateway)
        # The client's first packet in the same segment as the header is not lost.
        stream = await anyio.connect_tcp(gateway.host, gateway.port, local_host=BALANCER)
        await stream.send(v2_header("198.51.100.9", 40005)
                          + encode_packet(CliAcceptReq(), role=Role.CLIENT))
        same_segment = GameClient(stream, timeout=gateway.timeout)
        gateway.clients.append(same_segment)
        reply = await same_segment.expect(SrvAcceptReply, step="accept")
        assert reply.result is AcceptReplyResult.ACCEPTED
        assert "198.51.100.9:40005" in peers(gateway)
        # A balancer's health check (v2 LOCAL) is the balancer's own connection.
        check = await through_balancer(gateway, v2_header("0.0.0.0", 0, local=True))
        assert any(p.startswith(f"{BALANCER}:") for p in peers(gateway))
        # Malformed, too slow, and from a peer that is not trusted: refused.
        for bad in (b"PROXY TCP4 198.51.100.300 127.0.0.1 1 2\r\n", b"GET / HTTP/1.0\r\n\r\n",
                    V2_SIGNATURE + b"\x21\x11\xff\xff"):
            async with await anyio.connect_tcp(gateway.host, gateway.port,
                                               local_host=BALANCER) as stream:
                await stream.send(bad)
                assert await closed_at_once(stream)
        assert refused(gateway, "proxy_header") == 3
        async with await anyio.connect_tcp(gateway.host, gateway.port,
                                           local_host=BALANCER) as stream:
            await stream.send(b"PROXY TCP4 198.51")
            assert await closed_at_once(stream, within=3.0)
        assert refused(gateway, "proxy_timeout") == 1
        async with await anyio.connect_tcp(gateway.host, gateway.port,
                                           local_host=STRANGER) as stream:
            await stream.send(b"PROXY TCP4 198.51.100.9 127.0.0.1 1 29000\r\n")
            assert await closed_at_once(stream)
        assert refused(gateway, "proxy_untrusted") == 1
        # A direct client of an untrusted address is served as before.
        direct = await gateway.connect(source=STRANGER)
        assert f"{STRANGER}:" in " ".join(peers(gateway))
        for client in (v1, v2, other, check, direct):
            assert not client.closed
        await still_served(walker, "still here")


def _hard_limit() -> int:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return 1 << 20 if hard == resource.RLIM_INFINITY else hard


@pytest.mark.skipif(_hard_limit() <= 1024, reason="the hard open-file limit is 1,024 or less")
async def test_a_gateway_started_with_1024_open_files_raises_the_limit(tmp_path: Path) -> None:
    env = {**os.environ, **GATEWAY_TEST_ENV, "DATA_DIR": str(tmp_path / "data")}
    hard = _hard_limit()
    async with serve_process(env, tmp_path / "gateway.log", nofile=(1024, hard)) as gateway:
        limits = Path(f"/proc/{gateway.popen.pid}/limits").read_text()
        (line,) = [row for row in limits.splitlines() if row.startswith("Max open files")]
        assert line.split()[3:5] == [str(hard), str(hard)], line
        assert f"raised the open-file limit from 1024 to {hard}" in gateway.output()
        client = await flow.connect("127.0.0.1", gateway.port, timeout=TIMEOUT)
        await client.aclose()


async def test_a_low_hard_limit_is_reported_and_connections_past_the_headroom_refused(
        tmp_path: Path) -> None:
    env = {**os.environ, **GATEWAY_TEST_ENV, "DATA_DIR": str(tmp_path / "data"),
           "AUTH_CREATE_ACCOUNT_ON_FAIL": "true"}
    async with serve_process(env, tmp_path / "gateway.log", nofile=(256, 256)) as gateway:
        output = gateway.output()
        assert "the open-file limit 256 (hard 256) allows 192 client connections, fewer " \
               "than MAX_CONCURRENT_CONNECTIONS=10000" in output, output
        player = await flow.connect("127.0.0.1", gateway.port, timeout=TIMEOUT)
        try:
            assert (await flow.login(player, "walker", "pw")).result is LoginResult.OK
            async with contextlib.AsyncExitStack() as held:
                streams = [await held.enter_async_context(
                    await anyio.connect_tcp("127.0.0.1", gateway.port))
                    for _ in range(220)]
                states = [await closed_at_once(s, within=0.01) for s in streams[:180]]
                assert not any(states)
                over = [await closed_at_once(s) for s in streams[191:]]
                assert all(over), over
                # The gateway did not run out: the player's connection is still answered.
                reply = await flow.channel_list(player, 1)
                assert reply.channels
            assert "connection from 127.0.0.1 refused: 192 connections open, all the " \
                   "open-file limit allows" in gateway.output()
        finally:
            await player.aclose()
