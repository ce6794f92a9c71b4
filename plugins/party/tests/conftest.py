"""Fixtures of the party plugin tests: the reference party service on a real loopback grpc.aio
server, and event-stream readers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import anyio
import grpc
import pytest
from gateway_party.runtime import PartyRuntime
from gateway_party.service import PartyReferenceService
from gateway_protos.v1 import party_pb2, party_pb2_grpc

from gateway_core.api import SELECTED_CHARACTER, Session
from gateway_core.app import Gateway
from gateway_core.bot import GameClient
from gateway_core.bot import steps as flow
from gateway_core.protocol.packets import (
    CliAttack,
    CliPartyReply,
    CliPartyReq,
    CliWhisperChat,
    Packet,
    PartyMemberAction,
    PartyReplyType,
    PartyReqType,
    SrvDamage,
    SrvMobChar,
    SrvPartyMember,
    SrvPartyReply,
    SrvPartyReq,
    SrvWhisperChat,
)
from gateway_core.testing import (
    GATEWAY_TEST_SETTINGS,
    RunningGateway,
    StreamReader,
    running_gateway,
    serve_on_loopback,
)

P = TypeVar("P", bound=Packet)

#: Per-gateway queue bound in these tests (small, so overflow is cheap to provoke).
QUEUE_LIMIT = 64
#: Offline grace of the service tests (short: the expiry tests wait for it).
GRACE = 0.3
#: Longest a test waits for one event: generous, only reached when something is broken.
EVENT_TIMEOUT = 5.0


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """asyncio (grpc.aio); module scope keeps one event loop per module."""
    return "asyncio"


class Events(StreamReader[party_pb2.PartyEvent]):
    """A gateway's Events stream, read in the background into a queue."""

    async def next_of(self, kind: str,
                      match: Callable[[party_pb2.PartyEvent], bool] | None = None,
                      ) -> party_pb2.PartyEvent:
        """The next event of ``kind`` (the oneof's name) for which ``match`` holds; events
        before it are skipped (fails after EVENT_TIMEOUT)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while True:
            event = await asyncio.wait_for(self.events.get(), max(0.0, deadline - loop.time()))
            if event.WhichOneof("event") == kind and (match is None or match(event)):
                return event

    def drain(self) -> list[party_pb2.PartyEvent]:
        """Every event received so far (taken off the queue)."""
        out: list[party_pb2.PartyEvent] = []
        while not self.events.empty():
            out.append(self.events.get_nowait())
        return out


def member(character_id: int, name: str | None = None, *, map_id: int = 1,
           object_id: int | None = None, hp: int = 100, level: int = 10) -> party_pb2.PartyMember:
    """A member record as a gateway attaches it."""
    return party_pb2.PartyMember(
        character_id=character_id, name=name or f"c{character_id}", channel_id=1, map_id=map_id,
        object_id=character_id if object_id is None else object_id, level=level, hp=hp,
        max_hp=200, mp=50, max_mp=60, con=12,
    )


@dataclass
class PartyHarness:
    stub: party_pb2_grpc.PartyAsyncStub
    service: PartyReferenceService
    address: str
    streams: list[Events] = field(default_factory=list)

    async def subscribe(self, gateway_id: str) -> Events:
        """Open a stream and wait for its `subscribed` event."""
        call = self.stub.Events(party_pb2.PartyEventsRequest(gateway_id=gateway_id))
        stream = Events(call, timeout=EVENT_TIMEOUT)
        first = await asyncio.wait_for(stream.call.read(), EVENT_TIMEOUT)
        assert isinstance(first, party_pb2.PartyEvent) and first.HasField("subscribed")
        stream.start()
        self.streams.append(stream)
        return stream

    async def attach(self, gateway_id: str, character_id: int) -> party_pb2.PartyState:
        return await self.stub.Attach(party_pb2.PartyAttachRequest(
            gateway_id=gateway_id, member=member(character_id)))

    async def invite(self, inviter: int, target: int) -> party_pb2.PartyInviteReply:
        return await self.stub.Invite(party_pb2.PartyInviteRequest(
            character_id=inviter, target_character_id=target))

    async def reply(self, character_id: int, answer: int) -> party_pb2.PartyReply:
        return await self.stub.Reply(party_pb2.PartyReplyRequest(
            character_id=character_id, type=answer))

    async def party(self, character_id: int) -> party_pb2.PartyState:
        return await self.stub.GetParty(party_pb2.PartyGetPartyRequest(character_id=character_id))


@pytest.fixture
async def party() -> AsyncIterator[PartyHarness]:
    service = PartyReferenceService(queue_limit=QUEUE_LIMIT, max_members=3, offline_grace=GRACE)
    async with (
        serve_on_loopback(service, "party") as host,
        grpc.aio.insecure_channel(host.address) as channel,
    ):
        harness = PartyHarness(party_pb2_grpc.PartyStub(channel), service, host.address)
        try:
            yield harness
        finally:
            for stream in harness.streams:
                await stream.aclose()


# --- a running gateway and its players --------------------------------------------------------

#: The tests' content pack (content/party.toml): the arena, map 30, and its dummy.
PACK = Path(__file__).resolve().parent / "content" / "party.toml"
#: Longest one client wait.
TIMEOUT = 10.0
DUMMY_TYPE = 2
#: PAKWC_DAMAGE's action bit of a killing blow.
DAMAGE_DEAD = 0x10

SETTINGS: dict[str, object] = {
    **GATEWAY_TEST_SETTINGS,
    "WORLD_VIEW_RADIUS": 5000.0,
    "WORLD_TICK_INTERVAL": 0.05,
    "WORLD_CONTENT": str(PACK),
    "CHARACTER_CONTENT": str(PACK),
    "CHARACTER_START_MAP": 30,
    "WORLD_WANDER_INTERVAL": 3600.0,
    "WORLD_RANDOM_SEED": 7,
    "PARTY_UPDATE_INTERVAL": 0.1,
    "PARTY_RECONNECT_MAX_DELAY": 0.2,
}


@dataclass
class Player:
    """A bot in the world (map loaded)."""

    name: str
    client: GameClient
    gateway: Gateway
    object_id: int
    character_id: int

    async def send(self, *packets: Any) -> None:
        await self.client.send(*packets)

    async def expect(self, cls: type[P], step: str,
                     match: Callable[[P], bool] | None = None) -> P:
        """The next ``cls`` packet (matching), including one set aside while waiting for
        another."""
        for index, event in enumerate(self.client.unexpected):
            if isinstance(event, cls) and (match is None or match(event)):
                del self.client.unexpected[index]
                return event
        return await self.client.expect(cls, step=step, timeout=TIMEOUT, match=match)

    def received(self, cls: type[P]) -> list[P]:
        return [e for e in self.client.unexpected if isinstance(e, cls)]

    async def settle(self) -> None:
        """Wait until the gateway handled everything this player sent so far (a whisper to
        oneself makes the round trip through the same connection)."""
        await self.send(CliWhisperChat(target=self.name.encode(), message=b"mark"))
        await self.expect(SrvWhisperChat, "mark", lambda p: p.message == b"mark")

    @property
    def session(self) -> Session:
        session = self.gateway.connections.by_character_name(self.name)
        assert session is not None
        return session

    @property
    def tag(self) -> int:
        return self.character_id & 0xFFFFFFFF


class Arena(RunningGateway):
    """A running gateway with the party plugin, and the players a test made."""

    async def player(self, name: str, *, new: bool = True) -> Player:
        world_leg, _ = await self.join_world(name, new=new)
        change = await flow.change_map(world_leg)
        session = self.gateway.connections.by_character_name(name)
        assert session is not None
        character_id = session.records.require(SELECTED_CHARACTER).character_id
        player = Player(name, world_leg, self.gateway, change.object_index, character_id)
        with anyio.fail_after(TIMEOUT):  # the party service has it attached with its object id
            while True:
                runtime = self.runtime
                attached = runtime.events.attached.get(player.character_id)
                if attached is not None and attached.object_id == change.object_index:
                    break
                await anyio.sleep(0.01)
        return player

    @property
    def runtime(self) -> PartyRuntime:
        runtime = self.gateway.runtimes.get("party")
        assert isinstance(runtime, PartyRuntime)
        return runtime

    @property
    def party_stub(self) -> party_pb2_grpc.PartyAsyncStub:
        assert self.gateway.clients is not None
        stub: party_pb2_grpc.PartyAsyncStub = self.gateway.clients["party"]
        return stub

    async def party_of(self, player: Player) -> party_pb2.PartyState:
        return await self.party_stub.GetParty(
            party_pb2.PartyGetPartyRequest(character_id=player.character_id))

    def drops(self, reason: str) -> float:
        return self.sample("gateway_party_drops_total", {"reason": reason})

    async def form_accept(self, leader: Player, joiner: Player) -> None:
        """``joiner`` accepts the invite of ``leader`` that it was sent (creating the party)."""
        await joiner.send(CliPartyReply(type=PartyReplyType.ACCEPT_CREATE,
                                        target=leader.object_id))
        answer = await leader.expect(SrvPartyReply, "accepted")
        assert answer.type == PartyReplyType.ACCEPT_CREATE

    async def form(self, leader: Player, *members: Player) -> None:
        """``leader`` invites each of ``members``, who accepts; everyone sees everyone."""
        for index, joiner in enumerate(members):
            kind = PartyReqType.CREATE if index == 0 else PartyReqType.JOIN
            await leader.send(CliPartyReq(type=kind, target=joiner.object_id))
            invite = await joiner.expect(SrvPartyReq, "invite")
            assert (invite.source, invite.name) == (leader.object_id, leader.name.encode())
            accept = (PartyReplyType.ACCEPT_CREATE if index == 0
                      else PartyReplyType.ACCEPT_JOIN)
            await joiner.send(CliPartyReply(type=accept, target=leader.object_id))
            answer = await leader.expect(SrvPartyReply, "accepted")
            assert (answer.type, answer.source) == (accept, joiner.object_id)
            for other in (leader, *members[:index]):
                added = await other.expect(SrvPartyMember, "member added",
                                           _named(joiner.name))
                assert added.action == PartyMemberAction.ADD
                seen = await joiner.expect(SrvPartyMember, "member listed", _named(other.name))
                assert seen.member.tag == other.tag


def _named(name: str) -> Callable[[SrvPartyMember], bool]:
    wire = name.encode()
    return lambda packet: packet.member.name == wire


@pytest.fixture
async def arena(tmp_path: Path) -> AsyncIterator[Arena]:
    async with running_gateway({**SETTINGS, "DATA_DIR": str(tmp_path / "data")},
                               Arena) as running:
        yield running


async def kill_dummy(player: Player) -> int:
    """``player`` kills the arena's dummy; its object id."""
    dummy = await player.expect(SrvMobChar, "dummy", lambda p: p.npc_id == DUMMY_TYPE)
    await player.send(CliAttack(target_id=dummy.id))
    with anyio.fail_after(60):
        while True:
            hit = await player.expect(SrvDamage, "hit", lambda p: p.defender_id == dummy.id)
            if hit.action & DAMAGE_DEAD:
                return dummy.id
