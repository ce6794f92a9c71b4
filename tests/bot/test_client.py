"""GameClient: one connection's send / receive / expect, over real TCP on 127.0.0.1.

Boundary: the server end is a per-test script (``peer``): a real anyio listener whose handler
speaks through a real ``ProtocolConnection(Role.SERVER)`` and sends whatever the test needs,
in place of the gateway's handlers.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
import anyio.abc
import pytest

from gateway_core.bot.client import (
    BadServerData,
    ConnectFailed,
    ConnectionClosed,
    GameClient,
    StepTimeout,
    UnexpectedPacket,
    event_name,
)
from gateway_core.protocol.connection import NEED_DATA, ProtocolConnection, RawFrame, Role
from gateway_core.protocol.packets import (
    AcceptReplyResult,
    CliAcceptReq,
    CliNormalChat,
    Packet,
    SrvAcceptReply,
    SrvNormalChat,
    SrvWhisperChat,
)

from .conftest import CIPHERS, PROFILES

pytestmark = pytest.mark.anyio


class Peer:
    """The server end of one test connection."""

    def __init__(self, stream: anyio.abc.SocketStream, cipher: str, profile: str) -> None:
        self.stream = stream
        self.proto = ProtocolConnection(Role.SERVER, cipher=cipher, profile=profile)

    async def send(self, *packets: Packet | RawFrame) -> None:
        await self.stream.send(b"".join(self.proto.send(packet) for packet in packets))

    async def receive(self) -> Packet | RawFrame:
        while True:
            event = self.proto.next_event()
            if event is not NEED_DATA:
                return event
            self.proto.receive_data(await self.stream.receive(65536))


Script = Callable[[Peer], Awaitable[None]]


@contextlib.asynccontextmanager
async def peer(
    script: Script, *, cipher: str = "plain", profile: str = "2026", timeout: float = 1.0
) -> AsyncIterator[GameClient]:
    """A GameClient connected to a one-connection server running ``script``."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    done = anyio.Event()

    async def handle(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            await script(Peer(stream, cipher, profile))
            await done.wait()

    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, handle)
        client = await GameClient.connect("127.0.0.1", port, cipher=cipher, profile=profile,
                                          timeout=timeout)
        try:
            async with client:
                yield client
        finally:
            done.set()
            group.cancel_scope.cancel()


async def accept_then(*packets: Packet | RawFrame) -> Script:
    async def script(server: Peer) -> None:
        assert isinstance(await server.receive(), CliAcceptReq)
        await server.send(*packets)

    return script


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("cipher", CIPHERS)
async def test_expect_returns_the_packet_and_sets_others_aside(
    cipher: str, profile: str
) -> None:
    script = await accept_then(
        SrvWhisperChat(sender=b"server msg", message=b"hi"),
        RawFrame(0x07F0, None, b"\x01\x02"),
        SrvAcceptReply(result=AcceptReplyResult.ACCEPTED, rand_value=7),
    )
    async with peer(script, cipher=cipher, profile=profile) as client:
        await client.send(CliAcceptReq())
        reply = await client.expect(SrvAcceptReply, step="accept")

    assert reply == SrvAcceptReply(result=AcceptReplyResult.ACCEPTED, rand_value=7)
    assert [event_name(event) for event in client.unexpected] == ["PAKWC_WHISPER_CHAT", "0x07F0"]
    assert client.unexpected_counts == {"PAKWC_WHISPER_CHAT": 1, "0x07F0": 1}
    assert client.warnings and client.warnings[0][0] == "unknown_type"


async def test_expect_with_match_skips_packets_that_do_not_match() -> None:
    script = await accept_then(SrvNormalChat(char_id=2, message=b"other"),
                               SrvNormalChat(char_id=1, message=b"mine"))
    async with peer(script) as client:
        await client.send(CliAcceptReq())
        mine = await client.expect(SrvNormalChat, step="chat",
                                   match=lambda packet: packet.char_id == 1)
    assert mine.message == b"mine"
    assert client.unexpected_counts == {"PAKWC_NORMAL_CHAT": 1}


@pytest.mark.parametrize("cipher", CIPHERS)
async def test_expect_timeout_names_the_step_and_the_packet(cipher: str) -> None:
    script = await accept_then(SrvWhisperChat(sender=b"x", message=b"not it"))
    async with peer(script, cipher=cipher, timeout=0.1) as client:
        await client.send(CliAcceptReq())
        with pytest.raises(StepTimeout) as caught:
            await client.expect(SrvAcceptReply, step="accept")
    assert str(caught.value) == (
        "step 'accept': timed out after 0.1s waiting for PAKSS_ACCEPT_REPLY")
    assert (caught.value.step, caught.value.expected) == ("accept", "PAKSS_ACCEPT_REPLY")
    assert client.unexpected_counts == {"PAKWC_WHISPER_CHAT": 1}


async def test_expect_reports_the_server_closing() -> None:
    async def script(server: Peer) -> None:
        await server.receive()
        await server.stream.aclose()

    async with peer(script) as client:
        await client.send(CliAcceptReq())
        with pytest.raises(ConnectionClosed) as caught:
            await client.expect(SrvAcceptReply, step="accept")
        assert client.closed
    assert str(caught.value) == (
        "step 'accept': connection closed by the server while waiting for PAKSS_ACCEPT_REPLY")


async def test_packets_before_the_close_are_still_delivered() -> None:
    async def script(server: Peer) -> None:
        await server.receive()
        await server.send(SrvAcceptReply(result=AcceptReplyResult.ACCEPTED))
        await server.stream.aclose()

    async with peer(script) as client:
        await client.send(CliAcceptReq())
        await anyio.sleep(0.05)  # let the close arrive together with the reply
        assert isinstance(await client.expect(SrvAcceptReply, step="accept"), SrvAcceptReply)
        with pytest.raises(ConnectionClosed):
            await client.receive(step="after")


async def test_bad_bytes_from_the_server_are_bad_server_data() -> None:
    async def script(server: Peer) -> None:
        await server.receive()
        await server.stream.send(struct.pack("<HHH", 3, 0x0504, 0))  # size below the header

    async with peer(script) as client:
        await client.send(CliAcceptReq())
        with pytest.raises(BadServerData) as caught:
            await client.expect(SrvAcceptReply, step="accept")
    assert caught.value.kind == "bad_size"
    assert caught.value.step == "accept"


async def test_cipher_mismatch_surfaces_as_bad_server_data() -> None:
    # The server speaks rosecrypt, the client expects plain: the encrypted header read as a
    # plain one announces 0x2E83 bytes, over the 2047-byte limit.
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)

    async def handle(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            server = Peer(stream, "rosecrypt", "2026")
            await server.stream.receive()  # the client's plain accept request
            await server.send(SrvAcceptReply(result=AcceptReplyResult.ACCEPTED,
                                             rand_value=0x11223344))
            await anyio.sleep(1)

    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, handle)
        async with await GameClient.connect("127.0.0.1", port, timeout=0.5) as client:
            await client.send(CliAcceptReq())
            with pytest.raises(BadServerData) as caught:
                await client.expect(SrvAcceptReply, step="accept")
        group.cancel_scope.cancel()
    assert caught.value.kind == "bad_size"


async def test_reject_raises_unexpected_packet() -> None:
    script = await accept_then(SrvNormalChat(char_id=1, message=b"early"))
    async with peer(script) as client:
        await client.send(CliAcceptReq())
        with pytest.raises(UnexpectedPacket) as caught:
            await client.expect(SrvAcceptReply, step="seq", reject=(SrvNormalChat,))
    assert (caught.value.expected, caught.value.received) == (
        "PAKSS_ACCEPT_REPLY", "PAKWC_NORMAL_CHAT")


async def test_drain_collects_what_arrives() -> None:
    script = await accept_then(SrvNormalChat(char_id=1, message=b"a"),
                               SrvNormalChat(char_id=1, message=b"b"))
    async with peer(script) as client:
        await client.send(CliAcceptReq())
        got = await client.drain(0.2)
    assert [packet.message for packet in got if isinstance(packet, SrvNormalChat)] == [
        b"a", b"b"]


async def test_drain_stops_quietly_when_the_server_closes() -> None:
    async def script(server: Peer) -> None:
        await server.receive()
        await server.send(SrvNormalChat(char_id=1, message=b"bye"))
        await server.stream.aclose()

    async with peer(script) as client:
        await client.send(CliAcceptReq())
        got = await client.drain(5.0)
        assert client.closed
    assert got == [SrvNormalChat(char_id=1, message=b"bye")]


async def test_send_writes_all_packets_in_order() -> None:
    seen: list[Packet | RawFrame] = []

    async def script(server: Peer) -> None:
        for _ in range(3):
            seen.append(await server.receive())

    async with peer(script) as client:
        await client.send(CliAcceptReq(), CliNormalChat(message=b"one"),
                          CliNormalChat(message=b"two"))
        with anyio.fail_after(2):
            while len(seen) < 3:
                await anyio.sleep(0.01)
    assert seen == [CliAcceptReq(), CliNormalChat(message=b"one"), CliNormalChat(message=b"two")]


async def test_connect_failure_names_step_and_address(free_port: int) -> None:
    port = free_port
    with pytest.raises(ConnectFailed) as caught:
        await GameClient.connect("127.0.0.1", port, timeout=1.0, step="login_connect")
    assert caught.value.step == "login_connect"
    assert f"127.0.0.1:{port}" in str(caught.value)


async def test_send_after_the_server_closed_is_connection_closed() -> None:
    async def script(server: Peer) -> None:
        await server.stream.aclose()

    async with peer(script) as client:
        with pytest.raises(ConnectionClosed):
            await client.receive(step="wait")
        with pytest.raises(ConnectionClosed) as caught:
            await client.send(CliAcceptReq(), step="late")
    assert caught.value.step == "late"
