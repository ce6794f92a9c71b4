"""The gateway side of sessions across gateways: two :class:`SessionKeeper` (one per gateway,
each with its own connection registry) against one real auth service on loopback gRPC over a
real SQLite file. A keeper releases what its gateway no longer carries; the session ends
when the last gateway lets go."""

from __future__ import annotations

import anyio
import pytest
from gateway_auth.sessions import SessionKeeper
from gateway_protos.v1 import auth_pb2, auth_pb2_grpc

from gateway_core.protocol.connection import RawFrame
from gateway_core.protocol.packets import Packet
from gateway_core.session import ConnectionRegistry, Session, SessionState

from .conftest import AuthHarness
from .service.test_auth_service import PW, create, to_character_select
from .service.test_session_holds import is_live

pytestmark = pytest.mark.anyio

GRACE = 0.05


class Connection:
    """The client connection under a session (the boundary of these tests): remembers whether
    and why the keeper closed it."""

    def __init__(self) -> None:
        self.closed_for: str | None = None

    @property
    def closed(self) -> bool:
        return self.closed_for is not None

    def send_packet(self, packet: Packet | RawFrame) -> None:
        pass

    def send_encoded(self, data: bytes, type_name: str) -> None:
        pass

    def close(self, reason: str) -> None:
        self.closed_for = reason


def open_session(keeper: SessionKeeper, session_id: int) -> Session:
    session = Session(keeper.connections.next_connection_id(), outbox=Connection())
    keeper.connections.add(session)
    session.session_id = session_id
    return session


def keeper(stub: auth_pb2_grpc.AuthAsyncStub, gateway_id: str) -> SessionKeeper:
    return SessionKeeper(ConnectionRegistry(encode=lambda packet: b""), stub, grace=GRACE,
                         session_ttl=100.0, deadline=5.0, gateway_id=gateway_id)


async def carry(keeper: SessionKeeper, session_id: int) -> Session:
    """A connection of ``keeper``'s gateway that joined ``session_id`` (the join's hold is
    taken as the character plugin's ValidateSession takes it)."""
    reply = await keeper.auth.ValidateSession(
        auth_pb2.ValidateSessionRequest(session_id=session_id, password_hash=PW,
                                        gateway_id=keeper.gateway_id)
    )
    assert reply.result == auth_pb2.JOIN_RESULT_OK
    session = open_session(keeper, session_id)
    await session.set_state(SessionState.CHARACTER_SELECT)
    return session


async def close(keeper: SessionKeeper, session: Session) -> None:
    """The connection goes; wait until its grace period ran out and the release was sent."""
    session.close("client went away")
    keeper.connections.remove(session)
    keeper.connection_closed(session)
    assert session.session_id is not None
    pending = keeper._timers[session.session_id]
    with anyio.fail_after(2):
        await pending


async def test_the_session_ends_when_the_last_gateway_lets_go(auth: AuthHarness) -> None:
    await create(auth)
    session_id = await to_character_select(auth)
    a, b = keeper(auth.stub, "gateway-a"), keeper(auth.stub, "gateway-b")
    on_a = await carry(a, session_id)
    on_b = await carry(b, session_id)

    await close(a, on_a)
    assert await is_live(auth, session_id)
    await b.touch_all()  # B's connection is untouched by A's release
    assert not on_b.closed

    await close(b, on_b)
    assert not await is_live(auth, session_id)


async def test_a_session_ended_elsewhere_closes_the_carriers(auth: AuthHarness) -> None:
    await create(auth)
    session_id = await to_character_select(auth)
    b = keeper(auth.stub, "gateway-b")
    on_b = await carry(b, session_id)
    await auth.stub.EndSession(auth_pb2.EndSessionRequest(session_id=session_id))  # logout on A
    await b.touch_all()
    assert on_b.closed


async def test_touches_hold_the_session_under_the_gateway_id(auth: AuthHarness) -> None:
    await create(auth)
    session_id = await to_character_select(auth)
    b = keeper(auth.stub, "gateway-b")
    session = open_session(b, session_id)
    await session.set_state(SessionState.IN_WORLD)
    await b.touch_all()
    holders = await auth.sql("SELECT gateway_id FROM auth_session_holds")
    assert holders == [("gateway-b",)]
    assert await b.release(session_id)  # B was the only holder
    assert not await is_live(auth, session_id)


async def test_stopping_a_gateway_releases_its_pending_sessions(auth: AuthHarness) -> None:
    await create(auth)
    session_id = await to_character_select(auth)
    a, b = keeper(auth.stub, "gateway-a"), keeper(auth.stub, "gateway-b")
    a.grace = 30.0  # the grace period is still running when A stops
    on_a = await carry(a, session_id)
    await carry(b, session_id)
    on_a.close("client went away")
    a.connections.remove(on_a)
    a.connection_closed(on_a)
    await a.stop()
    assert await is_live(auth, session_id)  # B still carries it
