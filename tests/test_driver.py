"""The connection driver without sockets: dispatch per chunk, the flood limit, the send queue.

The socket side is replaced at its boundary, the driver's ``Transport`` protocol, by
:class:`FakeTransport`, which records writes, closes, aborts and reading pauses, and runs the
callbacks the driver schedules only when a test says so (one "event-loop turn"). The clock is
a fake too, so the flood limit is exercised without wall-clock time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest

from gateway_core.driver import ConnectionDriver, DriverConfig
from gateway_core.metrics import GatewayMetrics
from gateway_core.plugins import PacketRegistration
from gateway_core.protocol.connection import NEED_DATA, ProtocolConnection, RawFrame, Role
from gateway_core.protocol.packets import (
    CliAlive,
    CliChannelListReq,
    CliClanChat,
    CliNormalChat,
    SrvNormalChat,
)
from gateway_core.router import FatalHandlerError, Router
from gateway_core.session import ConnectionRegistry, Session, SessionState

pytestmark = pytest.mark.anyio


class FakeTransport:
    """Transport boundary: what the driver would do to the socket, recorded."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closes = 0
        self.aborts = 0
        self.paused = False
        self.pauses = 0
        self.backlog = 0  # what get_write_buffer_size reports
        self.scheduled: list[Callable[[], object]] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)  # not copied: the driver hands over immutable bytes

    def close(self) -> None:
        self.closes += 1

    def abort(self) -> None:
        self.aborts += 1

    def pause_reading(self) -> None:
        self.paused = True
        self.pauses += 1

    def resume_reading(self) -> None:
        self.paused = False

    def get_write_buffer_size(self) -> int:
        return self.backlog

    def schedule(self, callback: Callable[[], object], /) -> object:
        self.scheduled.append(callback)
        return None

    def next_turn(self) -> None:
        """Run what was scheduled, as the event loop's next turn would."""
        callbacks, self.scheduled = self.scheduled, []
        for callback in callbacks:
            callback()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Settings:
    POLICY_BEFORE_AUTH = "close"
    POLICY_AFTER_AUTH = "drop"
    PACKET_PROFILE = "2026"


class Handlers:
    """Echo, a handler that waits at a gate, a fatal one; records what was dispatched."""

    def __init__(self) -> None:
        self.seen: list[bytes] = []
        self.gate = anyio.Event()
        self.waiting = 0

    async def echo(self, ctx: Any, packet: CliNormalChat) -> None:
        self.seen.append(packet.message)
        ctx.reply(SrvNormalChat(char_id=0, message=packet.message))

    async def wait_gate(self, ctx: Any, packet: CliClanChat) -> None:
        self.seen.append(packet.message)
        self.waiting += 1
        await self.gate.wait()
        self.waiting -= 1
        ctx.reply(SrvNormalChat(char_id=0, message=b"gate passed"))

    async def alive(self, ctx: Any, packet: CliAlive) -> None:
        pass

    async def fatal(self, ctx: Any, packet: Any) -> None:
        ctx.reply(SrvNormalChat(char_id=0, message=b"goodbye"))
        raise FatalHandlerError("asked for it")


class Rig:
    """A registry, a router with :class:`Handlers`, metrics, and drivers over fake transports."""

    def __init__(self, *, rate: float = 0.0, burst: int = 0, limit: int = 64 * 1024) -> None:
        self.handlers = Handlers()
        self.clock = Clock()
        self.metrics = GatewayMetrics(process_metrics=False)
        self.registry = ConnectionRegistry(encode=ProtocolConnection(Role.SERVER).send)
        self.hooks: list[tuple[str, int]] = []
        h = self.handlers
        any_state = frozenset(SessionState)
        regs = {
            "PAKCS_NORMAL_CHAT": PacketRegistration("probe", "PAKCS_NORMAL_CHAT", h.echo,
                                                    any_state),
            "PAKCS_CLAN_CHAT": PacketRegistration("probe", "PAKCS_CLAN_CHAT", h.wait_gate,
                                                  any_state),
            "PAKCS_ALIVE": PacketRegistration("probe", "PAKCS_ALIVE", h.alive, any_state),
            "PAKCS_SHOUT_CHAT": PacketRegistration("probe", "PAKCS_SHOUT_CHAT", h.fatal,
                                                   any_state),
            "PAKCS_CHANNEL_LIST_REQ": PacketRegistration(
                "probe", "PAKCS_CHANNEL_LIST_REQ", h.echo, frozenset({SessionState.LOGGED_IN})),
        }
        router = Router(regs, connections=self.registry, settings=Settings(),
                        metrics=self.metrics)

        async def opened(session: Session) -> None:
            self.hooks.append(("opened", session.connection_id))

        async def closed(session: Session) -> None:
            self.hooks.append(("closed", session.connection_id))

        self.config = DriverConfig(
            router=router, registry=self.registry, metrics=self.metrics,
            new_protocol=lambda: ProtocolConnection(Role.SERVER, max_buffer=4096),
            on_open=opened, on_close=closed, send_queue_limit=limit, packet_rate=rate,
            packet_burst=burst, clock=self.clock,
        )
        self.client = ProtocolConnection(Role.CLIENT)

    def connect(self) -> tuple[ConnectionDriver, FakeTransport]:
        transport = FakeTransport()
        return ConnectionDriver(self.config, transport, peer_address=("10.0.0.1", 5000)), \
            transport

    def wire(self, *packets: Any) -> bytes:
        return b"".join(self.client.send(p) for p in packets)

    def sample(self, name: str, labels: dict[str, str] | None = None) -> float:
        value = self.metrics.registry.get_sample_value(name, labels or {})
        return 0.0 if value is None else float(value)


def decode(writes: list[bytes]) -> list[Any]:
    """The packets a client would read from ``writes``."""
    client = ProtocolConnection(Role.CLIENT)
    client.receive_data(b"".join(writes))
    out = []
    while (event := client.next_event()) is not NEED_DATA:
        out.append(event)
    return out


def chat(text: str) -> CliNormalChat:
    return CliNormalChat(message=text.encode())


def messages(writes: list[bytes]) -> list[bytes]:
    return [p.message for p in decode(writes)]


async def test_every_packet_of_a_chunk_is_dispatched_in_order_and_answered_in_one_write() -> None:
    rig = Rig()
    driver, transport = rig.connect()
    await driver.start()
    assert driver.receive_data(rig.wire(*(chat(f"m{i}") for i in range(50)))) is None
    assert rig.handlers.seen == [f"m{i}".encode() for i in range(50)]
    assert len(transport.writes) == 1  # the chunk's flush, nothing scheduled
    assert transport.scheduled == []
    assert messages(transport.writes) == rig.handlers.seen
    assert rig.sample("gateway_packets_sent_total", {"type": "PAKWC_NORMAL_CHAT"}) == 50
    assert driver.session.last_activity == rig.clock.now
    assert rig.hooks == [("opened", 1)]


async def test_a_packet_split_over_chunks_is_dispatched_once_complete() -> None:
    rig = Rig()
    driver, transport = rig.connect()
    data = rig.wire(chat("split-0"), chat("split-1"))
    for i in range(len(data)):
        assert driver.receive_data(data[i : i + 1]) is None
    assert rig.handlers.seen == [b"split-0", b"split-1"]
    assert messages(transport.writes) == [b"split-0", b"split-1"]
    assert len(transport.writes) == 2  # one per chunk that completed a packet


async def test_a_suspended_handler_finishes_before_the_rest_of_its_chunk() -> None:
    rig = Rig()
    driver, transport = rig.connect()
    rest = driver.receive_data(rig.wire(chat("before"), CliClanChat(message=b"wait"),
                                        chat("after")))
    assert rest is not None
    # What was queued before the handler suspended is written already.
    assert messages(transport.writes) == [b"before"]
    assert rig.handlers.seen == [b"before", b"wait"]
    async with anyio.create_task_group() as tg:
        tg.start_soon(_await, rest)
        while not rig.handlers.waiting:
            await anyio.sleep(0)
        assert rig.handlers.seen == [b"before", b"wait"]  # "after" waits for the handler
        rig.handlers.gate.set()
    assert rig.handlers.seen == [b"before", b"wait", b"after"]
    # The resumed handler's reply was queued outside a chunk: the coalescing flush writes it
    # and the rest of the chunk's replies together, on the next turn.
    assert len(transport.scheduled) == 1
    transport.next_turn()
    assert len(transport.writes) == 2
    assert messages(transport.writes) == [b"before", b"gate passed", b"after"]


async def _await(aw: Any) -> None:
    await aw


async def test_data_fed_while_a_handler_is_suspended_pauses_reading_and_is_dispatched_after(
) -> None:
    rig = Rig()
    driver, transport = rig.connect()
    rest = driver.receive_data(rig.wire(CliClanChat(message=b"wait")))
    assert rest is not None
    # A push-style transport goes on feeding: the driver keeps the chunk and pauses reading.
    assert driver.receive_data(rig.wire(chat("queued 1"))) is None
    assert driver.receive_data(rig.wire(chat("queued 2"))) is None
    assert transport.paused and transport.pauses == 1
    assert driver.buffered_bytes == 2 * len(rig.wire(chat("queued 1")))
    assert rig.handlers.seen == [b"wait"]
    rig.handlers.gate.set()
    await rest
    assert rig.handlers.seen == [b"wait", b"queued 1", b"queued 2"]
    transport.next_turn()
    assert messages(transport.writes) == [b"gate passed", b"queued 1", b"queued 2"]
    assert not transport.paused and driver.buffered_bytes == 0
    assert driver.receive_data(rig.wire(chat("next"))) is None
    assert rig.handlers.seen[-1] == b"next"


async def test_the_packet_that_overdraws_the_bucket_and_all_after_it_are_not_dispatched(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rig = Rig(rate=10, burst=20)
    driver, transport = rig.connect()
    assert driver.receive_data(rig.wire(*(chat(f"m{i}") for i in range(15)))) is None
    rig.clock.now += 0.25  # refills 2.5 packets: 7.5 left
    assert driver.receive_data(rig.wire(*(chat(f"n{i}") for i in range(10)))) is None
    assert rig.handlers.seen == [f"m{i}".encode() for i in range(15)] + [
        f"n{i}".encode() for i in range(7)]
    # Replies to what was dispatched went out, then the connection was closed (not aborted:
    # the fake transport has no unsent backlog).
    assert len(decode(transport.writes)) == 22
    assert driver.closed and driver.close_reason == "flood"
    assert transport.closes == 1 and transport.aborts == 0
    assert rig.sample("gateway_flood_disconnects_total") == 1
    [record] = [r for r in caplog.records if "flooding" in r.getMessage()]
    assert "connection #1 from 10.0.0.1:5000" in record.getMessage()
    assert "MAX_PACKETS_PER_SECOND=10 (burst 20), 23 packets in 0.250s" in record.getMessage()
    assert driver.receive_data(rig.wire(chat("late"))) is None
    assert len(rig.handlers.seen) == 22


async def test_a_flooder_that_does_not_read_its_replies_is_aborted() -> None:
    rig = Rig(rate=1, burst=3)
    driver, transport = rig.connect()
    transport.backlog = 100  # replies still unsent
    driver.receive_data(rig.wire(*(chat(f"m{i}") for i in range(5))))
    assert rig.handlers.seen == [b"m0", b"m1", b"m2"]
    assert driver.close_reason == "flood" and transport.aborts == 1


async def test_unlimited_rate_never_runs_out() -> None:
    rig = Rig(rate=0, burst=1)
    driver, _ = rig.connect()
    for _ in range(3):
        driver.receive_data(rig.wire(*[CliAlive()] * 600))
    assert not driver.closed
    assert rig.sample("gateway_packets_received_total", {"type": "PAKCS_ALIVE"}) == 1800


async def test_a_packet_refused_by_the_close_policy_stops_the_chunk_after_flushing() -> None:
    rig = Rig()
    driver, transport = rig.connect()
    # CHANNEL_LIST_REQ is only allowed after login; before auth the policy is "close".
    driver.receive_data(rig.wire(chat("first"), CliChannelListReq(server_id=1), chat("never")))
    assert rig.handlers.seen == [b"first"]
    assert messages(transport.writes) == [b"first"]
    assert driver.closed and driver.close_reason.startswith("wrong_state")
    assert transport.closes == 1
    assert rig.sample("gateway_router_drops_total", {"reason": "wrong_state"}) == 1


async def test_a_fatal_handler_error_closes_after_its_reply() -> None:
    from gateway_core.protocol.packets import CliShoutChat

    rig = Rig()
    driver, transport = rig.connect()
    driver.receive_data(rig.wire(CliShoutChat(message=b"x"), chat("never")))
    assert messages(transport.writes) == [b"goodbye"]
    assert driver.closed and transport.closes == 1 and rig.handlers.seen == []


async def test_a_bad_header_is_a_protocol_error_that_closes_and_is_counted() -> None:
    rig = Rig()
    driver, transport = rig.connect()
    driver.receive_data(rig.wire(chat("ok")) + b"\x03\x00\x07\x00\x00\x00")
    assert rig.handlers.seen == [b"ok"]
    assert messages(transport.writes) == [b"ok"]
    assert driver.close_reason == "protocol error: bad_size" and transport.closes == 1
    assert rig.sample("gateway_protocol_errors_total", {"kind": "bad_size"}) == 1


async def test_end_of_stream_inside_a_packet_is_a_truncated_protocol_error() -> None:
    rig = Rig()
    driver, _ = rig.connect()
    driver.receive_data(rig.wire(chat("partial"))[:-3])
    assert driver.receive_data(b"") is None
    assert driver.close_reason == "protocol error: truncated"


async def test_sends_outside_a_chunk_are_coalesced_into_one_write_per_turn() -> None:
    rig = Rig()
    driver, transport = rig.connect()
    for i in range(5):
        driver.session.send(SrvNormalChat(char_id=0, message=f"push {i}".encode()))
    assert transport.writes == [] and len(transport.scheduled) == 1
    transport.next_turn()
    assert len(transport.writes) == 1
    assert messages(transport.writes) == [f"push {i}".encode() for i in range(5)]
    transport.next_turn()
    assert len(transport.writes) == 1 and transport.scheduled == []


async def test_a_chunk_leaves_its_replies_to_a_pending_coalescing_flush() -> None:
    rig = Rig()
    driver, transport = rig.connect()
    driver.session.send(SrvNormalChat(char_id=0, message=b"pushed"))  # a flush is scheduled
    assert driver.receive_data(rig.wire(chat("reply"))) is None
    assert transport.writes == []
    transport.next_turn()
    assert len(transport.writes) == 1  # one write for both
    assert messages(transport.writes) == [b"pushed", b"reply"]
    assert driver.receive_data(rig.wire(chat("next"))) is None  # nothing pending: at once
    assert len(transport.writes) == 2


async def test_a_broadcast_queues_the_same_bytes_to_every_open_recipient() -> None:
    rig = Rig()
    peers = [rig.connect() for _ in range(4)]
    peers[2][0].close("gone")
    packet = SrvNormalChat(char_id=7, message=b"to everyone")
    count = rig.registry.broadcast([d.session for d, _ in peers], packet)
    assert count == 3
    for _, transport in peers:
        transport.next_turn()
    assert [len(t.writes) for _, t in peers] == [1, 1, 0, 1]
    # Encoded once: each recipient writes the very same bytes object.
    [a], [b], [c] = (t.writes for i, (_, t) in enumerate(peers) if i != 2)
    assert a is b is c
    assert decode(peers[0][1].writes) == [packet]
    assert rig.sample("gateway_packets_sent_total", {"type": "PAKWC_NORMAL_CHAT"}) == 3


async def test_a_send_queue_over_the_limit_aborts_the_slow_reader() -> None:
    rig = Rig(limit=1000)
    driver, transport = rig.connect()
    for _ in range(30):
        driver.session.send(SrvNormalChat(char_id=0, message=b"x" * 50))
    assert driver.closed and driver.close_reason == "slow client"
    assert transport.aborts == 1 and transport.writes == []
    transport.next_turn()
    assert transport.writes == []
    assert rig.sample("gateway_slow_client_disconnects_total") == 1


async def test_an_unsent_backlog_over_the_limit_after_a_write_aborts_the_slow_reader() -> None:
    rig = Rig(limit=1000)
    driver, transport = rig.connect()
    transport.backlog = 1001
    driver.receive_data(rig.wire(chat("reply")))
    assert len(transport.writes) == 1
    assert driver.close_reason == "slow client" and transport.aborts == 1


async def test_after_the_transport_is_lost_nothing_is_written_or_dispatched() -> None:
    rig = Rig()
    driver, transport = rig.connect()
    driver.session.send(SrvNormalChat(char_id=0, message=b"queued"))
    driver.connection_lost(None)
    assert driver.closed and driver.close_reason == "peer closed"
    transport.next_turn()
    driver.session.send(SrvNormalChat(char_id=0, message=b"late"))
    assert driver.receive_data(rig.wire(chat("late"))) is None
    assert transport.writes == [] and rig.handlers.seen == []


async def test_shutdown_flushes_and_finish_runs_the_closed_hooks_and_unregisters() -> None:
    rig = Rig()
    driver, transport = rig.connect()
    await driver.start()
    states: list[SessionState] = []
    driver.session.send(SrvNormalChat(char_id=0, message=b"last words"))
    driver.shutdown()
    assert messages(transport.writes) == [b"last words"] and transport.closes == 1
    assert rig.registry.get(driver.session.connection_id) is driver.session
    await driver.finish()
    states.append(driver.session.state)
    assert states == [SessionState.CLOSING]
    assert rig.hooks == [("opened", 1), ("closed", 1)]
    assert rig.registry.get(driver.session.connection_id) is None
    driver.shutdown()  # idempotent
    assert transport.closes == 1


async def test_raw_frames_of_unknown_types_go_through_the_router_policy() -> None:
    rig = Rig()
    driver, transport = rig.connect()
    driver.receive_data(rig.wire(RawFrame(0x7FE, None, b"")))
    assert driver.closed and transport.closes == 1
    assert rig.sample("gateway_router_drops_total", {"reason": "unknown_type"}) == 1
