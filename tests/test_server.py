"""The listener and per-connection loop over real TCP on 127.0.0.1.

A test plugin (:class:`Probe`) is registered in the ``gateway`` fixture and unregistered in
its ``finally``.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import pytest

from gateway_core.core_packets import ANY_STATE
from gateway_core.hookspecs import hookimpl
from gateway_core.protocol.connection import RawFrame
from gateway_core.protocol.packets import (
    CliAcceptReq,
    CliAlive,
    CliAlliedChat,
    CliChannelListReq,
    CliCharListReq,
    CliLoginReq,
    CliNormalChat,
    CliPartyChat,
    CliShoutChat,
    CliWhisperChat,
    SrvAcceptReply,
    SrvNormalChat,
)
from gateway_core.router import FatalHandlerError, PacketContext
from gateway_core.server import running_on_asyncio
from gateway_core.session import Session, SessionState

pytestmark = pytest.mark.anyio

FLOOD_REPLY = b"z" * 1900


class Probe:
    """Test plugin: echo, login, a state-guarded packet, raising handlers, a flood, a gate and
    a slow handler."""

    def __init__(self, flood_count: int = 20) -> None:
        self.flood_count = flood_count
        self.opened: list[int] = []
        self.closed: list[int] = []
        self.gate = anyio.Event()
        self.slow_gate = anyio.Event()
        self.slow_waiting = 0
        self.slow_done = 0

    @hookimpl
    def gateway_register_packets(self, register: Any) -> None:
        register("PAKCS_NORMAL_CHAT", self.echo, states=ANY_STATE)
        register("PAKCS_LOGIN_REQ", self.login, states={SessionState.CONNECTED})
        register("PAKCS_CHANNEL_LIST_REQ", self.channels, states={SessionState.LOGGED_IN})
        register("PAKCS_WHISPER_CHAT", self.raises, states=ANY_STATE)
        register("PAKCS_SHOUT_CHAT", self.fatal, states=ANY_STATE)
        register("PAKCS_PARTY_CHAT", self.flood, states=ANY_STATE)
        register("PAKCS_CLAN_CHAT", self.wait_gate, states=ANY_STATE)
        register("PAKCS_ALLIED_CHAT", self.slow, states=ANY_STATE)

    @hookimpl
    def gateway_session_opened(self, session: Session) -> None:
        self.opened.append(session.connection_id)

    @hookimpl
    async def gateway_session_closed(self, session: Session) -> None:
        await anyio.sleep(0)
        self.closed.append(session.connection_id)

    async def echo(self, ctx: PacketContext, packet: CliNormalChat) -> None:
        ctx.reply(SrvNormalChat(char_id=ctx.session.connection_id, message=packet.message))

    async def login(self, ctx: PacketContext, packet: CliLoginReq) -> None:
        await ctx.session.set_state(SessionState.LOGGED_IN)
        ctx.reply(SrvNormalChat(char_id=0, message=b"logged in"))

    async def channels(self, ctx: PacketContext, packet: CliChannelListReq) -> None:
        ctx.reply(SrvNormalChat(char_id=0, message=b"channels"))

    async def raises(self, ctx: PacketContext, packet: Any) -> None:
        raise ValueError("handler bug")

    async def fatal(self, ctx: PacketContext, packet: Any) -> None:
        ctx.reply(SrvNormalChat(char_id=0, message=b"goodbye"))
        raise FatalHandlerError("client asked for it")

    async def flood(self, ctx: PacketContext, packet: Any) -> None:
        for _ in range(self.flood_count):
            ctx.reply(SrvNormalChat(char_id=0, message=FLOOD_REPLY))

    async def wait_gate(self, ctx: PacketContext, packet: Any) -> None:
        await self.gate.wait()
        ctx.reply(SrvNormalChat(char_id=0, message=b"gate passed"))

    async def slow(self, ctx: PacketContext, packet: Any) -> None:
        # Always suspends: a handler waiting on something, like a backend call.
        self.slow_waiting += 1
        await self.slow_gate.wait()
        await anyio.sleep(0)
        self.slow_waiting -= 1
        self.slow_done += 1


def chat(text: str) -> CliNormalChat:
    return CliNormalChat(message=text.encode())


def sample(gw: Any, name: str, labels: dict[str, str] | None = None) -> float:
    value = gw.metrics.registry.get_sample_value(name, labels or {})
    return 0.0 if value is None else float(value)


async def echo_round_trip(client: Any, text: str) -> None:
    await client.send(chat(text))
    [reply] = await client.receive()
    assert reply == SrvNormalChat(char_id=reply.char_id, message=text.encode())


async def test_many_packets_in_one_write_are_answered_in_order(gateway: Any, connect: Any) -> None:
    async with gateway(Probe()) as gw, connect(gw) as client:
        await client.send(CliAcceptReq(), *(chat(f"m{i}") for i in range(200)))
        replies = await client.receive(201)
        assert isinstance(replies[0], SrvAcceptReply)
        assert [r.message for r in replies[1:]] == [f"m{i}".encode() for i in range(200)]
        assert sample(gw, "gateway_packets_received_total", {"type": "PAKCS_NORMAL_CHAT"}) == 200


async def test_one_packet_split_over_many_writes_is_answered_in_order(
    gateway: Any, connect: Any
) -> None:
    async with gateway(Probe()) as gw, connect(gw) as client:
        data = b"".join(client.proto.send(chat(f"split-{i}")) for i in range(3))
        for i in range(len(data)):
            await client.send_raw(data[i : i + 1])
            if i % 4 == 0:
                await anyio.sleep(0.001)  # let the bytes arrive as separate reads
        replies = await client.receive(3)
        assert [r.message for r in replies] == [b"split-0", b"split-1", b"split-2"]


async def test_bad_header_closes_only_that_connection(gateway: Any, connect: Any) -> None:
    async with gateway(Probe()) as gw, connect(gw) as bad, connect(gw) as good:
        await echo_round_trip(good, "before")
        await bad.send_raw(b"\x03\x00\x07\x00\x00\x00")  # size 3 < header size
        await bad.closed_by_server()
        await echo_round_trip(good, "after")
        assert sample(gw, "gateway_protocol_errors_total", {"kind": "bad_size"}) == 1


async def login(client: Any) -> None:
    await client.send(CliLoginReq(password=b"0" * 64, username=b"tester"))
    [reply] = await client.receive()
    assert reply.message == b"logged in"


@pytest.mark.parametrize("authenticated", [False, True], ids=["before_auth", "after_auth"])
@pytest.mark.parametrize("policy", ["close", "drop"])
@pytest.mark.parametrize(
    ("reason", "packet"),
    [
        ("unknown_type", CliCharListReq()),  # nobody handles it
        ("unknown_type", RawFrame(0x7FE, None, b"")),  # not even a packet type
        ("wrong_state", CliLoginReq(password=b"0" * 64, username=b"x")),
    ],
    ids=["unhandled", "unknown_value", "wrong_state"],
)
async def test_router_policy_for_unknown_and_wrong_state_packets(
    gateway: Any, connect: Any, authenticated: bool, policy: str, reason: str, packet: Any
) -> None:
    setting = "POLICY_AFTER_AUTH" if authenticated else "POLICY_BEFORE_AUTH"
    if reason == "wrong_state" and not authenticated:
        packet = CliChannelListReq(server_id=1)  # only allowed after login
    async with gateway(Probe(), **{setting: policy}) as gw, connect(gw) as client:
        if authenticated:
            await login(client)
        await client.send(packet)
        if policy == "close":
            await client.closed_by_server()
        else:
            await echo_round_trip(client, "still here")
        assert sample(gw, "gateway_router_drops_total", {"reason": reason}) == 1


async def test_default_policies_close_before_auth_and_drop_after(
    gateway: Any, connect: Any
) -> None:
    async with gateway(Probe()) as gw:
        async with connect(gw) as client:
            await client.send(CliCharListReq())
            await client.closed_by_server()
        async with connect(gw) as client:
            await login(client)
            await client.send(CliCharListReq())
            await echo_round_trip(client, "kept")


async def test_a_client_that_half_closes_gets_its_replies_then_the_close(
    gateway: Any, connect: Any
) -> None:
    async with gateway(Probe()) as gw, connect(gw) as client:
        await client.send(chat("a"), chat("b"))
        await client.stream.send_eof()
        received = await client.closed_by_server()
        assert [p.message for p in received] == [b"a", b"b"]
        with anyio.fail_after(3):
            while gw.server.connections:
                await anyio.sleep(0.01)


async def test_raising_handler_leaves_the_connection_and_others_working(
    gateway: Any, connect: Any
) -> None:
    async with gateway(Probe()) as gw, connect(gw) as client, connect(gw) as other:
        await client.send(CliWhisperChat(target=b"a", message=b"b"), chat("next"))
        [reply] = await client.receive()
        assert reply.message == b"next"
        await echo_round_trip(other, "other")
        assert sample(gw, "gateway_handler_errors_total", {"plugin": "Probe"}) == 1


async def test_fatal_handler_error_closes_only_that_connection_after_flushing(
    gateway: Any, connect: Any
) -> None:
    async with gateway(Probe()) as gw, connect(gw) as client, connect(gw) as other:
        await client.send(CliShoutChat(message=b"x"), chat("never dispatched"))
        received = await client.closed_by_server()
        assert [p.message for p in received] == [b"goodbye"]
        await echo_round_trip(other, "other")


async def test_reader_that_never_reads_is_disconnected_without_stalling_others(
    gateway: Any, connect: Any
) -> None:
    probe = Probe(flood_count=30)  # ~57 KB of replies per request
    async with gateway(probe, SEND_QUEUE_LIMIT=128 * 1024) as gw, connect(gw) as slow, \
            connect(gw) as other:
        raw = slow.stream.extra(anyio.abc.SocketAttribute.raw_socket)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        request = slow.proto.send(CliPartyChat(message=b"more"))
        served = 0
        with anyio.fail_after(10):
            while sample(gw, "gateway_slow_client_disconnects_total") == 0:
                try:
                    await slow.send_raw(request * 4)
                except (anyio.BrokenResourceError, ConnectionError):
                    break
                await echo_round_trip(other, f"served {served}")
                served += 1
        assert sample(gw, "gateway_slow_client_disconnects_total") == 1
        await echo_round_trip(other, "after the slow client")
        assert served >= 1


async def test_connection_over_the_limit_is_closed_at_once_and_counted(
    gateway: Any, connect: Any
) -> None:
    async with gateway(Probe(), MAX_CONCURRENT_CONNECTIONS=2) as gw:
        async with connect(gw) as a, connect(gw) as b:
            await echo_round_trip(a, "a")
            await echo_round_trip(b, "b")
            async with connect(gw) as c:
                assert await c.closed_by_server() == []
            assert sample(gw, "gateway_connection_limit_rejections_total") == 1
            assert sample(gw, "gateway_active_connections") == 2
        with anyio.fail_after(3):
            while sample(gw, "gateway_active_connections") != 0:
                await anyio.sleep(0.01)
        async with connect(gw) as d:
            await echo_round_trip(d, "room again")


async def test_idle_connection_is_closed_and_traffic_keeps_one_open(
    gateway: Any, connect: Any
) -> None:
    probe = Probe()
    async with gateway(probe, IDLE_TIMEOUT=0.3) as gw, connect(gw) as idle, \
            connect(gw) as busy:
        with anyio.fail_after(3):
            async with anyio.create_task_group() as tg:
                tg.start_soon(idle.closed_by_server)
                for _ in range(8):  # 0.8 s of keep-alives, well past the timeout
                    await busy.send(CliAlive())
                    await anyio.sleep(0.1)
        await echo_round_trip(busy, "alive")
        assert sample(gw, "gateway_idle_timeouts_total") == 1
        assert len(probe.closed) == 1


async def test_session_hooks_run_on_open_and_close(gateway: Any, connect: Any) -> None:
    probe = Probe()
    async with gateway(probe) as gw:
        async with connect(gw) as client:
            await echo_round_trip(client, "x")
            assert probe.opened == [1]
        with anyio.fail_after(3):
            while probe.closed != [1]:
                await anyio.sleep(0.01)
        assert len(gw.connections) == 0


async def test_exhausted_buffer_pool_applies_backpressure_and_is_counted(
    gateway: Any, connect: Any
) -> None:
    from gateway_core.protocol.packets import CliClanChat

    probe = Probe()
    async with gateway(probe, BUFFER_POOL_SIZE=1, RECEIVE_BUFFER_SIZE=256) as gw, \
            connect(gw) as holder, connect(gw) as other:
        # The holder's dispatcher waits at the gate, so the bytes it sends next stay in the
        # one pooled buffer.
        await holder.send(CliClanChat(message=b"wait"))
        await anyio.sleep(0.05)
        await holder.send(chat("queued"))
        await anyio.sleep(0.05)
        assert gw.server.pool.in_use == 1
        await echo_round_trip(other, "served anyway")  # read into a temporary buffer
        assert sample(gw, "gateway_buffer_pool_exhausted_total") >= 1
        probe.gate.set()
        replies = await holder.receive(2)
        assert [r.message for r in replies] == [b"gate passed", b"queued"]
        await echo_round_trip(other, "pooled again")
        with anyio.fail_after(2):
            while gw.server.pool.in_use:
                await anyio.sleep(0.01)


async def test_replies_queued_before_a_handler_suspends_are_written_while_it_waits(
    gateway: Any, connect: Any
) -> None:
    from gateway_core.protocol.packets import CliClanChat

    probe = Probe()
    async with gateway(probe) as gw, connect(gw) as client:
        # One chunk: an echo, then a handler that suspends at the gate, then another echo.
        await client.send(chat("before"), CliClanChat(message=b"wait"), chat("after"))
        [first] = await client.receive(1)
        assert first.message == b"before"  # not held back until the gate opens
        probe.gate.set()
        replies = await client.receive(2)
        assert [r.message for r in replies] == [b"gate passed", b"after"]
        assert sample(gw, "gateway_packets_sent_total", {"type": "PAKWC_NORMAL_CHAT"}) == 3


async def test_bound_port_is_exposed(gateway: Any) -> None:
    async with gateway(Probe()) as gw:
        host, port = gw.address
        assert host == "127.0.0.1" and port > 0 and gw.server.port == port


# -- flood limit (MAX_PACKETS_PER_SECOND / MAX_PACKETS_BURST) ---------------------------------


async def test_flooding_client_is_disconnected_logged_once_and_counted_while_others_are_served(
    gateway: Any, connect: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="gateway.server")
    # 10/s refills less than one write of 25 keep-alives in any plausible round trip time, so
    # the fifth write overdraws the bucket of 100.
    async with gateway(Probe(), MAX_PACKETS_PER_SECOND=10, MAX_PACKETS_BURST=100) as gw, \
            connect(gw) as flooder, connect(gw) as other:
        burst = flooder.proto.send(CliAlive()) * 25
        writes = served = 0
        with anyio.fail_after(10):
            while sample(gw, "gateway_flood_disconnects_total") == 0:
                try:
                    await flooder.send_raw(burst)
                except (anyio.BrokenResourceError, ConnectionError):
                    break
                writes += 1
                await echo_round_trip(other, f"served {served}")
                served += 1
        await flooder.closed_by_server()
        assert sample(gw, "gateway_flood_disconnects_total") == 1
        assert served >= 4  # the first 100 keep-alives are within the burst
        alive = sample(gw, "gateway_packets_received_total", {"type": "PAKCS_ALIVE"})
        assert 100 <= alive < writes * 25  # what came after the overflow was not dispatched
        await echo_round_trip(other, "after the flood")
        with anyio.fail_after(3):
            while sample(gw, "gateway_active_connections") != 1:
                await anyio.sleep(0.01)
    records = [r for r in caplog.records if "flooding" in r.getMessage()]
    assert len(records) == 1
    message = records[0].getMessage()
    assert "connection #1 from 127.0.0.1:" in message
    assert "MAX_PACKETS_PER_SECOND=10 (burst 100)" in message


async def test_packets_after_the_overflow_are_not_dispatched_but_earlier_replies_are_sent(
    gateway: Any, connect: Any
) -> None:
    # At 1/s the bucket of 20 cannot refill by a whole packet while one write arrives.
    async with gateway(Probe(), MAX_PACKETS_PER_SECOND=1, MAX_PACKETS_BURST=20) as gw, \
            connect(gw) as client, connect(gw) as other:
        await client.send(*(chat(f"m{i}") for i in range(25)))
        received = await client.closed_by_server()
        assert [p.message for p in received] == [f"m{i}".encode() for i in range(20)]
        assert sample(gw, "gateway_packets_received_total", {"type": "PAKCS_NORMAL_CHAT"}) == 20
        assert sample(gw, "gateway_flood_disconnects_total") == 1
        await echo_round_trip(other, "unaffected")


async def test_burst_up_to_the_limit_in_one_write_is_served_in_full(
    gateway: Any, connect: Any
) -> None:
    async with gateway(Probe()) as gw, connect(gw) as client:  # defaults: 200/s, burst 400
        burst = int(gw.settings.MAX_PACKETS_BURST)
        assert burst == 400
        await client.send(*(chat(f"m{i}") for i in range(burst)))
        replies = await client.receive(burst)
        assert [r.message for r in replies] == [f"m{i}".encode() for i in range(burst)]
        # The bucket is empty now; after 1/100 s it holds two packets again.
        await anyio.sleep(0.01)
        await echo_round_trip(client, "still connected")
        assert sample(gw, "gateway_flood_disconnects_total") == 0


async def test_unlimited_packet_rate_never_disconnects(gateway: Any, connect: Any) -> None:
    async with gateway(Probe(), MAX_PACKETS_PER_SECOND=0, MAX_PACKETS_BURST=1) as gw, \
            connect(gw) as client:
        for round_ in range(3):
            await client.send(*[CliAlive()] * 3000, chat(f"end {round_}"))
            [reply] = await client.receive()
            assert reply.message == f"end {round_}".encode()
        assert sample(gw, "gateway_packets_received_total", {"type": "PAKCS_ALIVE"}) == 9000
        assert sample(gw, "gateway_flood_disconnects_total") == 0


async def test_pipelined_flood_to_a_slow_handler_is_paced_by_backpressure(
    gateway: Any, connect: Any
) -> None:
    probe = Probe()
    # No rate limit: what bounds memory here is that the server stops reading.
    async with gateway(probe, MAX_PACKETS_PER_SECOND=0, RECEIVE_BUFFER_SIZE=256) as gw, \
            connect(gw) as client:
        [conn] = gw.server.connections
        # One pooled buffer being filled, plus the protocol buffer: the chunk being dispatched
        # and at most one partial packet.
        bound = 2 * 256 + 2047
        packet = client.proto.send(CliAlliedChat(message=b"slow"))
        count = 64 * 1024 // len(packet)
        peak = 0

        async def watch() -> None:
            nonlocal peak
            while True:
                peak = max(peak, conn.buffered_bytes)
                await anyio.sleep(0.001)

        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(watch)
                tg.start_soon(client.send_raw, packet * count)  # 64 KiB in one write
                while not (probe.slow_waiting == 1 and conn.reading_paused):
                    await anyio.sleep(0.005)
                await anyio.sleep(0.1)  # time to read on, were the server reading
                assert conn.reading_paused
                assert conn.buffered_bytes <= bound
                assert sample(gw, "gateway_received_bytes_total") <= bound
                assert probe.slow_done == 0
                probe.slow_gate.set()
                while probe.slow_done < count:
                    await anyio.sleep(0.01)
                tg.cancel_scope.cancel()
        assert peak <= bound
        assert sample(gw, "gateway_received_bytes_total") == len(packet) * count
        assert sample(gw, "gateway_flood_disconnects_total") == 0
        await echo_round_trip(client, "served after the flood")


# Run in a fresh interpreter where ``import sniffio`` fails (``sys.modules["sniffio"] = None``
# before anyio is imported), as when anyio is installed without it: the check, anyio's asyncio
# backend and the gateway itself must not depend on sniffio.
WITHOUT_SNIFFIO = """
import functools
import sys
sys.modules["sniffio"] = None  # any import of it raises ImportError from here on
try:
    import sniffio  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit("sniffio is still importable")

import anyio
import anyio._core._eventloop as anyio_eventloop

from gateway_core.app import Gateway
from gateway_core.plugins import GatewayPluginManager
from gateway_core.protocol.connection import NEED_DATA, ProtocolConnection, Role
from gateway_core.protocol.packets import CliAcceptReq, SrvAcceptReply
from gateway_core.server import running_on_asyncio

SETTINGS = {"LISTEN_ADDR": "127.0.0.1", "SERVICE_PORT": 0, "PACKET_METRICS_PORT": 0,
            "GATEWAY_LOAD_PLUGINS": (), "SHUTDOWN_DEADLINE": 2.0}


async def main() -> None:
    assert anyio_eventloop.sniffio is None, "anyio found sniffio"
    assert running_on_asyncio()
    gw = Gateway(overrides=SETTINGS, environ={}, pm=GatewayPluginManager())
    async with anyio.create_task_group() as tg:
        await tg.start(functools.partial(gw.run, handle_signals=False))
        client = ProtocolConnection(Role.CLIENT)
        with anyio.fail_after(10):
            async with await anyio.connect_tcp(*gw.address) as stream:
                await stream.send(client.send(CliAcceptReq()))
                while (event := client.next_event()) is NEED_DATA:
                    client.receive_data(await stream.receive())
        assert isinstance(event, SrvAcceptReply), event
        gw.stop()
    print("served without sniffio:", type(event).__name__)


anyio.run(main, backend="asyncio")
assert "sniffio" not in sys.modules or sys.modules["sniffio"] is None
"""


def test_running_on_asyncio_is_detected_and_the_gateway_serves_without_sniffio() -> None:
    result = subprocess.run([sys.executable, "-c", WITHOUT_SNIFFIO], capture_output=True,
                            text=True, timeout=60, cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "served without sniffio: SrvAcceptReply" in result.stdout


def test_running_on_asyncio_is_false_outside_an_event_loop() -> None:
    assert not running_on_asyncio()
