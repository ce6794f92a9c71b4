"""A scripted ROSE server for the bot tests.

Boundary: the gateway's auth and character handlers do not exist yet, so these tests run the
bot against this scripted peer instead: a small anyio TCP server on 127.0.0.1 that plays the
server side of docs/protocol.md §7 with a real ``ProtocolConnection(Role.SERVER)`` (real framing,
real cipher, real packet codecs), answering with the replies the spec describes. Everything on
the client side (the bot library, its sockets and its protocol layer) is the real thing. Like
the gateway, it serves the login, character and world legs on one port and tells the legs
apart by the session's phase (docs/protocol.md §10).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc
import pytest

from gateway_core import testing
from gateway_core.protocol.connection import NEED_DATA, ProtocolConnection, Role
from gateway_core.protocol.errors import RemoteProtocolError
from gateway_core.protocol.packets import (
    AcceptReplyResult,
    ChannelInfo,
    CharInfo,
    CliAcceptReq,
    CliChangeMapReq,
    CliChannelListReq,
    CliCharListReq,
    CliCreateCharReq,
    CliJoinServerReq,
    CliLoginReq,
    CliLogoutReq,
    CliMouseCmd,
    CliNormalChat,
    CliSelectCharReq,
    CliSrvSelectReq,
    CliWhisperChat,
    CreateCharResult,
    JoinResult,
    LoginResult,
    Packet,
    ServerInfo,
    ServerSelectResult,
    SrvAcceptReply,
    SrvBillingMessage,
    SrvChangeMapReply,
    SrvChannelListReply,
    SrvCharListReply,
    SrvCreateCharReply,
    SrvInventoryData,
    SrvJoinServerReply,
    SrvLoginReply,
    SrvLogoutReply,
    SrvMouseCmd,
    SrvNormalChat,
    SrvQuestData,
    SrvSelectCharReply,
    SrvSrvSelectReply,
    SrvSwitchServer,
    SrvWhisperChat,
)

CIPHERS = ("plain", "rosecrypt")
PROFILES = ("2026", "2021")
SERVER_SENDER = b"server msg"


def sha256_hex(password: str) -> bytes:
    return hashlib.sha256(password.encode()).hexdigest().encode()


@dataclass
class ScriptedSession:
    """A session as the auth service would keep it: its user and phase."""

    session_id: int
    username: str
    phase: str = "character"  # then "world"
    character: str | None = None


@dataclass
class PeerConnection:
    """One accepted connection of the scripted server."""

    stream: anyio.abc.SocketStream
    proto: ProtocolConnection
    lock: anyio.Lock = field(default_factory=anyio.Lock)
    username: str | None = None
    session: ScriptedSession | None = None
    leg: str = "login"
    object_id: int = 0
    on_map: bool = False

    async def send(self, *packets: Packet) -> None:
        data = b"".join(self.proto.send(packet) for packet in packets)
        async with self.lock:
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                await self.stream.send(data)


@dataclass
class ScriptedServer:
    """The scripted peer (see the module docstring).

    ``accounts`` maps usernames to plain passwords; ``characters`` usernames to their
    character names. ``mute`` holds request names the server never answers (to make a step
    time out); ``initial_order`` overrides the order of the four initial world packets;
    ``handout`` replaces the address handed out for the next leg.
    """

    cipher: str = "plain"
    profile: str = "2026"
    accounts: dict[str, str] = field(default_factory=dict)
    characters: dict[str, list[str]] = field(default_factory=dict)
    mute: set[str] = field(default_factory=set)
    initial_order: tuple[int, ...] = (0, 1, 2, 3)
    #: The (ip, port) handed out for the next leg; None = this server's own address.
    handout: tuple[bytes, int] | None = None
    port: int = 0
    sessions: dict[int, ScriptedSession] = field(default_factory=dict)
    connections: list[PeerConnection] = field(default_factory=list)
    #: For each world join: how many connections of that session were open at that moment.
    open_legs_at_world_join: list[int] = field(default_factory=list)
    received: list[str] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _objects: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def handle(self, stream: anyio.abc.SocketStream) -> None:
        peer = PeerConnection(stream, ProtocolConnection(Role.SERVER, cipher=self.cipher,
                                                         profile=self.profile))
        self.connections.append(peer)
        try:
            async with stream:
                while True:
                    try:
                        data = await stream.receive(65536)
                    except (anyio.EndOfStream, anyio.BrokenResourceError):
                        return
                    peer.proto.receive_data(data)
                    while True:
                        try:
                            event = peer.proto.next_event()
                        except RemoteProtocolError:
                            return
                        if event is NEED_DATA:
                            break
                        assert isinstance(event, Packet), event
                        self.received.append(event.NAME)
                        if event.NAME not in self.mute:
                            await self.on_packet(peer, event)
        finally:
            self.connections.remove(peer)

    def next_leg(self) -> tuple[bytes, int]:
        return self.handout if self.handout is not None else (b"127.0.0.1", self.port)

    def world_peers(self) -> list[PeerConnection]:
        return [peer for peer in self.connections if peer.on_map]

    async def on_packet(self, peer: PeerConnection, packet: Packet) -> None:
        match packet:
            case CliAcceptReq():
                await peer.send(SrvAcceptReply(result=AcceptReplyResult.ACCEPTED,
                                               rand_value=0x11223344))
            case CliLoginReq(password=password, username=username):
                await self.on_login(peer, password, username.decode())
            case CliChannelListReq(server_id=server_id):
                await peer.send(SrvChannelListReply(
                    id=server_id, channels=(ChannelInfo(id=1, name=b"Channel One"),)))
            case CliSrvSelectReq():
                assert peer.username is not None
                session = ScriptedSession(next(self._ids), peer.username)
                self.sessions[session.session_id] = session
                ip, port = self.next_leg()
                await peer.send(SrvSrvSelectReply(
                    result=ServerSelectResult.OK, session_id=session.session_id,
                    ip=ip, port=port))
            case CliJoinServerReq(session_id=session_id, password=password):
                await self.on_join(peer, session_id, password)
            case CliCharListReq():
                assert peer.session is not None
                names = self.characters.get(peer.session.username, [])
                await peer.send(SrvCharListReply(characters=tuple(
                    CharInfo(name=name.encode(), level=1) for name in names)))
            case CliCreateCharReq(name=name):
                assert peer.session is not None
                taken = any(name.decode() in names for names in self.characters.values())
                if not taken:
                    self.characters.setdefault(peer.session.username, []).append(name.decode())
                result = CreateCharResult.NAME_TAKEN if taken else CreateCharResult.OK
                await peer.send(SrvCreateCharReply(result=result))
            case CliSelectCharReq(name=name):
                assert peer.session is not None
                peer.session.phase = "world"
                peer.session.character = name.decode()
                ip, port = self.next_leg()
                await peer.send(SrvSwitchServer(port=port, session_id=peer.session.session_id,
                                                ip=ip))
            case CliChangeMapReq():
                peer.on_map = True
                await peer.send(
                    SrvChangeMapReply(object_index=peer.object_id, hp=100, mp=50),
                    # What osIROSE sends next (§7.4 step 7): the bot must set it aside.
                    SrvWhisperChat(sender=SERVER_SENDER,
                                   message=f"You are client {peer.object_id}".encode()),
                )
            case CliNormalChat(message=message):
                for other in self.world_peers():
                    await other.send(SrvNormalChat(char_id=peer.object_id, message=message))
            case CliWhisperChat(target=target, message=message):
                assert peer.session is not None and peer.session.character is not None
                for other in self.world_peers():
                    if other.session and other.session.character == target.decode():
                        await other.send(SrvWhisperChat(
                            sender=peer.session.character.encode(), message=message))
            case CliMouseCmd(x=x, y=y):
                for other in self.world_peers():
                    await other.send(SrvMouseCmd(id=peer.object_id, x=x, y=y))
            case CliLogoutReq():
                await peer.send(SrvLogoutReply(wait_time=0))
            case _:
                pass

    async def on_login(self, peer: PeerConnection, password: bytes, username: str) -> None:
        plain = self.accounts.get(username)
        if plain is None:
            result = LoginResult.UNKNOWN_ACCOUNT
        elif password != sha256_hex(plain):
            result = LoginResult.INVALID_PASSWORD
        else:
            result = LoginResult.OK
            peer.username = username
        servers = (ServerInfo(test=ord(" "), name=b"Scripted", id=7),) if peer.username else ()
        await peer.send(SrvLoginReply(result=result, right=100 if peer.username else 0,
                                      servers_info=servers))

    async def on_join(self, peer: PeerConnection, session_id: int, password: bytes) -> None:
        session = self.sessions.get(session_id)
        if session is None or password != sha256_hex(self.accounts[session.username]):
            await peer.send(SrvJoinServerReply(result=JoinResult.INVALID_PASSWORD))
            return
        peer.session = session
        if session.phase == "character":
            peer.leg = "character"
            await peer.send(SrvJoinServerReply(result=JoinResult.OK, id=4242))
            return
        peer.leg = "world"
        peer.object_id = next(self._objects)
        self.open_legs_at_world_join.append(
            sum(1 for other in self.connections if other.session is session))
        initial: tuple[Packet, ...] = (
            SrvSelectCharReply(map=20, x=520000.0, y=520100.0,
                               name=(session.character or "").encode()),
            SrvInventoryData(zuly=1000),
            SrvQuestData(),
            SrvBillingMessage(),
        )
        await peer.send(SrvJoinServerReply(result=JoinResult.OK, id=peer.object_id),
                        *(initial[index] for index in self.initial_order))


ServerFactory = Callable[..., contextlib.AbstractAsyncContextManager[ScriptedServer]]


@contextlib.asynccontextmanager
async def running(server: ScriptedServer) -> AsyncIterator[ScriptedServer]:
    """Serve ``server`` on an ephemeral 127.0.0.1 port for the duration of the block."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    server.port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener:
        async with anyio.create_task_group() as group:
            group.start_soon(listener.serve, server.handle)
            try:
                yield server
            finally:
                group.cancel_scope.cancel()


@pytest.fixture
def scripted_server() -> ServerFactory:
    """``async with scripted_server(cipher=..., accounts=...) as server:`` runs one."""

    def factory(**kwargs: Any) -> contextlib.AbstractAsyncContextManager[ScriptedServer]:
        return running(ScriptedServer(**kwargs))

    return factory


@pytest.fixture
def free_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    return testing.free_port()
