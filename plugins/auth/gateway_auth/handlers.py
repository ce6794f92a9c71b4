"""Client-facing packet handlers of the auth plugin: the login leg and logout.

The login leg (docs/protocol.md §7.2): ``PAKCS_LOGIN_REQ`` -> ``PAKLC_LOGIN_REPLY`` (the server list
on OK), ``PAKCS_CHANNEL_LIST_REQ`` -> ``PAKLC_CHANNEL_LIST_REPLY``, ``PAKCS_SRV_SELECT_REQ`` ->
``PAKLC_SRV_SELECT_REPLY`` with the session id and the address of the character endpoint, which
is this gateway (or PUBLIC_HOST/PUBLIC_PORT). ``PAKCS_LOGOUT_REQ`` (§7.8) saves and ends the
session. The joins of the character and world legs are the character plugin's (it must load the
character before it answers a world join). The end of sessions whose connections are gone is
:mod:`gateway_auth.sessions`.

Strategy: every backend call is guarded; a backend that is down, slow or failing gets the
client the packet's FAILED result (never silence, never an exception out of the handler), and
nothing is remembered on the connection, so the next attempt works once the backend is back.
Requests before a login are refused by the router's state policy (they are registered for
LOGGED_IN only), and a second login on a connection is ignored the same way (CONNECTED only).
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, TypeAlias, cast

import grpc
from gateway_protos.v1 import auth_pb2

from gateway_auth.service.passwords import normalize_client_hash
from gateway_auth.sessions import LOGIN_PHASE, SessionKeeper
from gateway_auth.tokens import refused, register_if_numbered
from gateway_core.api import (
    TEXT_ENCODING,
    ChannelInfo,
    CliChannelListReq,
    CliLoginReq,
    CliLoginTokenReq,
    CliLogoutReq,
    CliSrvSelectReq,
    Key,
    LoginResult,
    ServerInfo,
    ServerSelectResult,
    Session,
    SessionState,
    SrvChannelListReply,
    SrvLoginReply,
    SrvLogoutReply,
    SrvSrvSelectReply,
    hookimpl,
    public_address,
)

if TYPE_CHECKING:
    from gateway_protos.v1.auth_pb2_grpc import AuthAsyncStub

    from gateway_core.api import PacketContext, PacketRegistrar

log = logging.getLogger("gateway.auth")

if TYPE_CHECKING:
    #: What the handlers get: the runtime is this gateway's session keeper (None without an
    #: auth client).
    Ctx: TypeAlias = PacketContext[SessionKeeper | None]


#: Set once a server select succeeded on a login connection; later list/select requests on it
#: are ignored (osIROSE's "transferring" state, §7.2 step 7).
TRANSFERRED = Key[bool]("auth.transferred")

#: Longest username a login may carry (the service refuses longer ones as malformed).
MAX_USERNAME = 64
#: Largest value of PAKLC_LOGIN_REPLY.right (a u16).
MAX_RIGHT = 0xFFFF
#: Test-server mark of the server list, and the mark of a normal server.
TEST_MARK = ord("@")
NORMAL_MARK = ord(" ")
#: Longest name in the server and channel lists (bytes; the client's own limit is unknown).
MAX_LIST_NAME = 32

_LOGIN_RESULTS = {int(r): r for r in LoginResult}
_SELECT_RESULTS = {int(r): r for r in ServerSelectResult}

_LEGS = frozenset({SessionState.LOGGED_IN, SessionState.CHARACTER_SELECT, SessionState.IN_WORLD})


def _auth(ctx: Ctx) -> AuthAsyncStub:
    return cast("AuthAsyncStub", ctx.clients["auth"])


def _failure(exc: grpc.aio.AioRpcError, what: str, session: Session) -> None:
    log.warning("connection #%d: %s failed: auth service %s: %s", session.connection_id, what,
                exc.code().name, exc.details())


def _list_name(value: str) -> bytes:
    # Backend text is untrusted too: what the wire cannot carry is replaced, never raised.
    return value.encode(TEXT_ENCODING, "replace").replace(b"\0", b"?")[:MAX_LIST_NAME]


# --- login leg ----------------------------------------------------------------------------------


async def on_login_req(ctx: Ctx, packet: CliLoginReq) -> None:
    """Log in (§7.2 steps 1-3): the reply carries the server list on OK only;
    NO_RIGHT_TO_CONNECT closes the connection after the reply."""
    session = ctx.session
    username = packet.text("username")
    if not username or len(username) > MAX_USERNAME or not username.isprintable():
        ctx.reply(SrvLoginReply(result=LoginResult.UNKNOWN_ACCOUNT))  # no such name can exist
        return
    password_hash = normalize_client_hash(packet.text("password"))
    if password_hash is None:  # not a SHA-256 hex: cannot be anybody's password
        ctx.reply(SrvLoginReply(result=LoginResult.INVALID_PASSWORD))
        return
    auth = _auth(ctx)
    keeper = ctx.runtime
    attempt_id = uuid.uuid4().hex
    try:
        reply = await auth.Login(auth_pb2.LoginRequest(
            username=username, password_hash=password_hash,
            source_address=session.peer_address[0], attempt_id=attempt_id))
    except grpc.aio.AioRpcError as exc:
        _failure(exc, "login", session)
        ctx.reply(SrvLoginReply(result=LoginResult.FAILED))
        if keeper is not None:
            # The service may still finish this login: it must not leave a session behind.
            keeper.login_refusals.labels("abandoned").inc()
            await keeper.abandon(attempt_id)
        return
    result = _LOGIN_RESULTS.get(int(reply.result), LoginResult.FAILED)
    if reply.retry_after_seconds > 0:
        log.info("connection #%d: login of %r throttled for %.0f s", session.connection_id,
                 username, reply.retry_after_seconds)
        if keeper is not None:
            keeper.login_refusals.labels("throttled").inc()
    if result is not LoginResult.OK:
        log.info("connection #%d: login of %r refused: %s", session.connection_id, username,
                 result.name)
        ctx.reply(SrvLoginReply(result=result))
        if result is LoginResult.NO_RIGHT_TO_CONNECT:
            ctx.close("no right to connect")
        return
    try:
        worlds = await auth.ListWorlds(auth_pb2.ListWorldsRequest())
    except grpc.aio.AioRpcError as exc:
        _failure(exc, "server list", session)
        # The login opened a session: without it the account would stay online.
        if keeper is not None:
            await keeper.end(reply.session_id)
        ctx.reply(SrvLoginReply(result=LoginResult.FAILED))
        return
    session.user_id = reply.user_id
    session.username = reply.username
    session.access_level = reply.access_level
    session.session_id = reply.session_id
    session.plugin_data.set(LOGIN_PHASE, True)
    servers = tuple(
        ServerInfo(test=TEST_MARK if world.test else NORMAL_MARK, name=_list_name(world.name),
                   id=world.id)
        for world in worlds.worlds
    )
    ctx.reply(SrvLoginReply(result=LoginResult.OK, right=min(reply.access_level, MAX_RIGHT),
                            type=0, servers_info=servers))
    log.info("connection #%d: user %d (%s) logged in", session.connection_id, reply.user_id,
             reply.username)
    await session.set_state(SessionState.LOGGED_IN)


async def on_channel_list_req(ctx: Ctx, packet: CliChannelListReq) -> None:
    """The channels of one world (§7.2 steps 4-5). The reply has no result field: an unknown
    world, or a backend fault, gets an empty list. ``capacity`` is how many players the
    channel holds, from the world service when the gateway has a world client (§10.11);
    without one that answers, the auth service's value."""
    from gateway_protos.v1 import world_pb2

    if TRANSFERRED in ctx.session.plugin_data:
        return
    channels: tuple[ChannelInfo, ...] = ()
    try:
        reply = await _auth(ctx).ListChannels(
            auth_pb2.ListChannelsRequest(world_id=packet.server_id)
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() is not grpc.StatusCode.NOT_FOUND:
            _failure(exc, "channel list", ctx.session)
    else:
        players: dict[int, int] | None = None
        world = ctx.runtime.world if ctx.runtime is not None else None
        if world is not None and reply.channels:
            try:
                stats = await world.GetStats(world_pb2.WorldStatsRequest())
                players = {c.channel_id: c.characters for c in stats.channels}
            except grpc.aio.AioRpcError as exc:
                log.info("auth: channel player counts unavailable: %s", exc.code().name)
        channels = tuple(
            ChannelInfo(id=c.id & 0xFF, low_age=c.low_age & 0xFF, high_age=c.high_age & 0xFF,
                        capacity=min(c.capacity if players is None else players.get(c.id, 0),
                                     0xFFFF),
                        name=_list_name(c.name))
            for c in reply.channels[:0xFF]
        )
    ctx.reply(SrvChannelListReply(id=packet.server_id, channels=channels))


async def on_srv_select_req(ctx: Ctx, packet: CliSrvSelectReq) -> None:
    """Server select (§7.2 steps 6-7): the auth service moves the session to character select
    under a new id, and the reply sends the client to the character endpoint."""
    session = ctx.session
    if TRANSFERRED in session.plugin_data or session.session_id is None:
        return
    try:
        reply = await _auth(ctx).SelectServer(
            auth_pb2.SelectServerRequest(session_id=session.session_id,
                                         world_id=packet.server_id,
                                         channel_id=packet.channel_id)
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
            # An unknown world (osIROSE sends nothing; we say so) or a session that ended.
            log.info("connection #%d: server select refused: %s", session.connection_id,
                     exc.details())
        else:
            _failure(exc, "server select", session)
        ctx.reply(SrvSrvSelectReply(result=ServerSelectResult.FAILED))
        return
    result = _SELECT_RESULTS.get(int(reply.result), ServerSelectResult.FAILED)
    if result is not ServerSelectResult.OK:
        ctx.reply(SrvSrvSelectReply(result=result))
        return
    session.session_id = reply.session_id
    session.plugin_data.pop(LOGIN_PHASE)
    session.plugin_data.set(TRANSFERRED, True)
    ip, port = public_address(session, ctx.settings)
    ctx.reply(SrvSrvSelectReply(result=ServerSelectResult.OK, session_id=reply.session_id,
                                crypt_val=0, ip=ip, port=port))


# --- logout -------------------------------------------------------------------------------------


async def on_logout_req(ctx: Ctx, packet: CliLogoutReq) -> None:
    """Logout (§7.8): the character is saved (the character plugin does that when the
    connection leaves the world), the session ends, then ``PAKWC_LOGOUT_REPLY { waitTime 0 }``
    and every connection of the session on this gateway is closed.

    When the auth service cannot end the session now, the reply is sent all the same and the
    end is left to the grace period of the closed connections.
    """
    session = ctx.session
    session_id = session.session_id
    # Leaving the world through CLOSING runs the save (and the world's leave) before the
    # session ends, so a quick new login loads what was saved.
    await session.set_state(SessionState.CLOSING)
    ended = False
    keeper = ctx.runtime
    if session_id is not None and keeper is not None:
        ended = await keeper.end(session_id)
    ctx.reply(SrvLogoutReply(wait_time=0))
    carriers = keeper.carriers(session_id) if keeper is not None and session_id else []
    for other in [session, *carriers]:
        if ended:
            other.session_id = None  # nothing left for the grace period to end
        other.close("logout")
    log.info("connection #%d: user %s logged out", session.connection_id, session.user_id)


async def on_login_token_req(ctx: Ctx, packet: CliLoginTokenReq) -> None:
    """Token login (2026 numbering only): refused with FAILED, logged and counted; the
    connection stays open for a password login (docs/protocol.md §10.14)."""
    refused(ctx, CliLoginTokenReq.NAME, f"{len(packet.token)}-byte token; no token is defined")
    ctx.reply(SrvLoginReply(result=LoginResult.FAILED))


# --- hooks --------------------------------------------------------------------------------------


@hookimpl
def gateway_register_packets(register: PacketRegistrar) -> None:
    """The login leg and logout."""
    register(CliLoginReq.NAME, on_login_req, states={SessionState.CONNECTED})
    register(CliChannelListReq.NAME, on_channel_list_req, states={SessionState.LOGGED_IN})
    register(CliSrvSelectReq.NAME, on_srv_select_req, states={SessionState.LOGGED_IN})
    register(CliLogoutReq.NAME, on_logout_req, states=_LEGS)
    register_if_numbered(register, CliLoginTokenReq.NAME, on_login_token_req,
                         states={SessionState.CONNECTED})
