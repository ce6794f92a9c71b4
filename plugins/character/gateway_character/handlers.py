"""Client-facing packet handlers of the character plugin: the joins of the character and world
legs, character selection (list, create, delete/undelete, select) and change of character.

Flow (docs/protocol.md §7.3, §7.4, §7.7; docs/protocol.md §10.1): a
``PAKCS_JOIN_SERVER_REQ`` is validated by the auth service and the connection takes the
session's phase. In character select the join reply's ``id`` is a non-zero number of the
gateway's choice. In the world phase the character is loaded first (a failure answers the join
FAILED, §7.4 step 3), a world object id is allocated, and the join reply is followed by
``PAKWC_SELECT_CHAR_REPLY``, ``PAKWC_INVENTORY_DATA``, ``PAKWC_QUEST_DATA`` and
``PAKWC_BILLING_MESSAGE``, in that order. ``PAKCS_SELECT_CHAR_REQ`` moves the auth session to
the world phase and answers ``PAKCC_SWITCH_SERVER`` with the world endpoint: this gateway, or
PUBLIC_HOST/PUBLIC_PORT. ``PAKCS_CHANGE_CHAR_REQ`` moves it back without a new login. Whenever a
connection leaves the world (change of character, logout, disconnect) the character is saved.

Strategy: every backend call is guarded. Packets whose reply has a result code get FAILED on a
backend fault; the rest (the list, select, delete and change of character, whose replies have
no failure value) are answered when the answer is known: an empty list on a fault, and nothing
for a select, delete or change that did not happen (logged), so the client stays where it was
and may retry. Nothing half-done is remembered on the connection.

Records: the world join writes the :data:`SELECTED_CHARACTER` record (the one this plugin
claims) and moves the session to IN_WORLD before it replies; the world plugin, in its state
hook, puts the character on its map and writes the :data:`WORLD_PLACEMENT` record with the
object id the world service handed out (unique per map across gateways). The join reply
carries that id; without a world plugin it carries a gateway-local one. The save on leaving
the world stores the placement's map and position (where the character is, not where it
entered; only a position the world service gave, never a client's claim; a stored position the
world found impossible is its map's spawn point from the enter on, and the select reply shows
it) and, when the world wrote one, the :data:`CHARACTER_PROGRESS` record (level, XP,
vitals, stats, points, skills).

Saves: besides the one on leaving, a character is saved when the world raises its level (a
watcher of the progress record, :func:`on_progress`) and every CHARACTER_AUTOSAVE_SECONDS (the
runtime, :mod:`gateway_character.tokens`); the GM commands save too. The saves of one
character never overlap and never go back in time: each holds the connection's
:attr:`Playing.lock` and computes what it stores inside it, so a later save always carries
newer state, and what was stored becomes the state the next one starts from.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol, cast

import grpc
from gateway_protos.v1 import auth_pb2, character_pb2

from gateway_character.convert import (
    char_info,
    clamp,
    inventory_data,
    select_char_reply,
    wire_name,
)
from gateway_character.saves import SaveBatcher, SaveRefused
from gateway_core.api import (
    CHARACTER_PROGRESS,
    MAX_SKILL_COUNT,
    SELECTED_CHARACTER,
    WORLD_PLACEMENT,
    CharacterProgress,
    CliChangeCharReq,
    CliCharListReq,
    CliCreateCharReq,
    CliDeleteCharReq,
    CliJoinServerReq,
    CliSelectCharReq,
    CreateCharResult,
    GatewayView,
    JoinResult,
    Key,
    Position,
    SelectedCharacter,
    Session,
    SessionState,
    SrvBillingMessage,
    SrvChanCharReply,
    SrvCharListReply,
    SrvCreateCharReply,
    SrvDeleteCharReply,
    SrvJoinServerReply,
    SrvQuestData,
    SrvSwitchServer,
    hookimpl,
    public_address,
)

if TYPE_CHECKING:
    from gateway_protos.v1.auth_pb2_grpc import AuthAsyncStub
    from gateway_protos.v1.character_pb2_grpc import CharacterAsyncStub

    from gateway_core.api import PacketContext, PacketRegistrar

log = logging.getLogger("gateway.character")

#: This process, in the world connection ids the auth service keeps (connection ids start
#: again at 1 in every process).
_PROCESS: Final = uuid.uuid4().hex[:16]
#: The auth stub and session id of the world join this connection made (released on leaving).
WORLD_CONNECTION = Key[tuple[Any, int]]("character.world_connection")


def world_connection(session: Session) -> str:
    """The connection's id towards the auth service (unique on this gateway, across restarts)."""
    return f"{_PROCESS}:{session.connection_id}"

#: Largest world object id (16-bit, 0 is never used).
MAX_OBJECT_ID: Final = 0xFFFF
#: Most characters a list reply can carry (u8 count).
MAX_LIST: Final = 0xFF
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CREATE_RESULTS = {int(r): r for r in CreateCharResult}


class BackgroundSaves(Protocol):
    """What runs the background saves of world connections (the plugin's runtime). A runtime
    may also batch the saves pending at once into SaveCharacters calls (``save_batcher``, a
    :class:`~gateway_character.saves.SaveBatcher`) and count the saves that could not be made
    (``save_lost``); both are optional."""

    def save_soon(self, session: Session, playing: Playing, why: str) -> None:
        """Save the character of ``session`` in a task of its own (never raises)."""


def report_lost(session: Session, playing: Playing, why: str, reason: str) -> None:
    """A save that will not be made (the state it carried is gone): counted by the runtime
    (when it counts) and logged with the character's name, once per character."""
    if playing.lost:
        return
    # Once per save on leaving (none runs after it): the runtime's stop and the save itself
    # may both find it lost at the deadline.
    playing.lost = playing.left
    lost = getattr(playing.saves, "save_lost", None)
    if lost is not None:
        lost(session, playing, why, reason)
    else:
        log.error("connection #%d: character %r (%d) NOT saved (%s): %s", session.connection_id,
                  playing.state.name, playing.state.id, why, reason)


@dataclass(slots=True)
class Playing:
    """What a world connection keeps to save its character: the state as last loaded or
    stored (each save starts from it and replaces it once stored), the character stub, who
    runs its background saves, and the lock that orders its saves.

    ``stale_progress`` is a progress record not to store: the one the connection had when
    this character joined (a previous character's, until the world clears it), or the one a
    GM change was made over (the change is newer).
    ``left`` is set by the save on leaving the world; no save runs after it.
    """

    state: character_pb2.CharacterState
    character: CharacterAsyncStub
    saves: BackgroundSaves | None = None
    stale_progress: CharacterProgress | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    left: bool = False
    #: A background save is scheduled and has not taken the lock yet.
    queued: bool = False
    #: Its save on leaving was counted and logged as lost.
    lost: bool = False


#: The character a world connection plays (set on the world join, popped by the save).
PLAYING = Key[Playing]("character.playing")


@dataclass(frozen=True, slots=True)
class Listed:
    """One entry of the character list a character-select connection was shown (its index is
    the ``char_id`` of the client's select and delete requests)."""

    character_id: int
    name: str


#: The character list last shown on a character-select connection.
LISTED = Key[tuple[Listed, ...]]("character.listed")


def _character(ctx: PacketContext[None]) -> CharacterAsyncStub:
    return cast("CharacterAsyncStub", ctx.clients["character"])


def _auth(ctx: PacketContext[None]) -> AuthAsyncStub:
    return cast("AuthAsyncStub", ctx.clients["auth"])


def _failure(exc: grpc.aio.AioRpcError, what: str, session: Session) -> None:
    log.warning("connection #%d: %s failed: %s %s", session.connection_id, what,
                exc.code().name, exc.details())


def client_hash(value: str) -> str | None:
    """The client's password field as lowercase SHA-256 hex, or None when it is not one."""
    lowered = value.lower()
    return lowered if _HEX64.fullmatch(lowered) else None


def object_id(session: Session) -> int:
    """The object id of the character of ``session``: its world placement's, or, when no world
    plugin placed it, one derived from the connection id (non-zero, 16-bit; there is no map
    to be unique on)."""
    placement = session.records.get(WORLD_PLACEMENT)
    placed = placement.object_id if placement is not None else None
    return placed or (session.connection_id - 1) % MAX_OBJECT_ID + 1


def _ref(session: Session, char_id: int) -> character_pb2.CharacterRef:
    """The character a request's ``charId`` means: the entry of the list this connection was
    shown (by name, so a purge in between cannot shift it), else the service's list index."""
    listed = session.plugin_data.get(LISTED) or ()
    if 0 <= char_id < len(listed):
        return character_pb2.CharacterRef(name=listed[char_id].name)
    return character_pb2.CharacterRef(index=char_id)


# --- joins --------------------------------------------------------------------------------------


async def on_join_server_req(ctx: PacketContext[None], packet: CliJoinServerReq) -> None:
    """Join the character or world leg with a session id (§7.3 steps 2-3, §7.4 steps 2-4).

    INVALID_PASSWORD for an unknown, expired or forged session or a wrong password hash;
    FAILED when a backend fails. A second join on a connection is ignored (the handler is
    registered for CONNECTED only).
    """
    session = ctx.session
    password_hash = client_hash(packet.text("password"))
    if password_hash is None:
        ctx.reply(SrvJoinServerReply(result=JoinResult.INVALID_PASSWORD))
        return
    try:
        reply = await _auth(ctx).ValidateSession(
            auth_pb2.ValidateSessionRequest(session_id=packet.session_id,
                                            password_hash=password_hash,
                                            world_connection=world_connection(session))
        )
    except grpc.aio.AioRpcError as exc:
        _failure(exc, "join", session)
        ctx.reply(SrvJoinServerReply(result=JoinResult.FAILED))
        return
    info = reply.session
    if reply.result != auth_pb2.JOIN_RESULT_OK or info.phase not in (
        auth_pb2.SESSION_PHASE_CHARACTER_SELECT, auth_pb2.SESSION_PHASE_WORLD
    ):
        # An expired session (TIME_OUT) is refused like a forged one: osIROSE clients know
        # only OK, FAILED and INVALID_PASSWORD here (§7.3 step 3).
        failed = reply.result == auth_pb2.JOIN_RESULT_FAILED
        log.info("connection #%d: join with session %d refused", session.connection_id,
                 packet.session_id)
        ctx.reply(SrvJoinServerReply(
            result=JoinResult.FAILED if failed else JoinResult.INVALID_PASSWORD
        ))
        return
    if info.phase == auth_pb2.SESSION_PHASE_CHARACTER_SELECT:
        _bind(session, info)
        ctx.reply(SrvJoinServerReply(result=JoinResult.OK,
                                     id=clamp(session.connection_id, 32) or 1, pay_flag=0))
        await session.set_state(SessionState.CHARACTER_SELECT)
        return
    await _join_world(ctx, info)


def _bind(session: Session, info: auth_pb2.SessionInfo) -> None:
    session.user_id = info.user_id
    session.username = info.username
    session.access_level = info.access_level
    session.session_id = info.session_id


async def _join_world(ctx: PacketContext[None], info: auth_pb2.SessionInfo) -> None:
    session = ctx.session
    character = _character(ctx)
    try:
        state = await character.GetCharacter(
            character_pb2.GetCharacterRequest(character_id=info.character_id)
        )
    except grpc.aio.AioRpcError as exc:
        _failure(exc, "loading the character", session)
        ctx.reply(SrvJoinServerReply(result=JoinResult.FAILED))
        return
    if state.account_id != info.user_id:
        log.error("character %d is not account %d's", state.id, info.user_id)
        ctx.reply(SrvJoinServerReply(result=JoinResult.FAILED))
        return
    _bind(session, info)
    # This connection plays the character now: the auth service refuses another world join
    # of the session until it is released (leaving the world, below).
    session.plugin_data.set(WORLD_CONNECTION, (_auth(ctx), info.session_id))
    ctx.records.set(session, SELECTED_CHARACTER, SelectedCharacter(
        character_id=state.id, name=state.name, map_id=state.map_id,
        position=Position(state.x, state.y, 0.0), channel_id=info.channel_id or 1,
    ))
    session.plugin_data.set(PLAYING, Playing(
        state, character, saves=_saves(ctx.runtime),
        stale_progress=session.records.get(CHARACTER_PROGRESS),
    ))
    playing_here = getattr(ctx.runtime, "in_world", None)
    if playing_here is not None:  # the runtime's stop saves those whose close was cut short
        playing_here[session.connection_id] = session
    # Enter before replying: the world plugin puts the character on its map in the state hook
    # (the placement record); the join reply must carry the id the other players will see.
    await session.set_state(SessionState.IN_WORLD)
    world_id = object_id(session)
    ctx.reply(SrvJoinServerReply(result=JoinResult.OK, id=world_id, pay_flag=0))
    # Where the world put it: a stored point outside its map lands on the map's spawn point.
    ctx.reply(select_char_reply(_placed_state(session, state)))
    ctx.reply(inventory_data(state))
    ctx.reply(SrvQuestData())  # quests are not kept: all zero, like osIROSE
    ctx.reply(SrvBillingMessage())  # functionType 0x1001, payFlag 2
    log.info("connection #%d: %s entered the world as object %d", session.connection_id,
             state.name, world_id)


def _placed_state(session: Session,
                  state: character_pb2.CharacterState) -> character_pb2.CharacterState:
    """``state`` on the map and at the position of the world placement (as loaded without
    one)."""
    placement = session.records.get(WORLD_PLACEMENT)
    if placement is None or (placement.map_id == state.map_id
                             and placement.position.x == state.x
                             and placement.position.y == state.y):
        return state
    placed = character_pb2.CharacterState()
    placed.CopyFrom(state)
    placed.map_id = clamp(placement.map_id, 16)
    placed.x, placed.y = placement.position.x, placement.position.y
    return placed


# --- character select ---------------------------------------------------------------------------


async def on_char_list_req(ctx: PacketContext[None], packet: CliCharListReq) -> None:
    """The account's characters (§7.3 step 4), remaining delete seconds included; a backend
    fault gets an empty list (the reply has no result field)."""
    session = ctx.session
    summaries: list[character_pb2.CharacterSummary] = []
    try:
        reply = await _character(ctx).ListCharacters(
            character_pb2.ListCharactersRequest(account_id=session.user_id or 0)
        )
        summaries = list(reply.characters[:MAX_LIST])
    except grpc.aio.AioRpcError as exc:
        _failure(exc, "character list", session)
    session.plugin_data.set(LISTED, tuple(Listed(c.id, c.name) for c in summaries))
    ctx.reply(SrvCharListReply(characters=tuple(char_info(c) for c in summaries)))


async def on_create_char_req(ctx: PacketContext[None], packet: CliCreateCharReq) -> None:
    """Create a character (§7.3 step 5) with the service's result code: OK, NAME_TAKEN,
    INVALID_VALUE, TOO_MANY_CHARS, BLOCKED, or FAILED on a backend fault."""
    session = ctx.session
    request = character_pb2.CreateCharacterRequest(
        account_id=session.user_id or 0, name=packet.text("name"), race=packet.race,
        stone=packet.stone, hair=packet.hair, face=packet.face, weapon=packet.weapon,
        zone=packet.zone,
    )
    try:
        reply = await _character(ctx).CreateCharacter(request)
    except grpc.aio.AioRpcError as exc:
        if exc.code() is grpc.StatusCode.INVALID_ARGUMENT:  # e.g. an empty name
            result = CreateCharResult.INVALID_VALUE
        else:
            _failure(exc, "character creation", session)
            result = CreateCharResult.FAILED
    else:
        result = _CREATE_RESULTS.get(int(reply.result), CreateCharResult.FAILED)
        if result is not CreateCharResult.OK:
            log.info("connection #%d: character %r refused: %s", session.connection_id,
                     request.name, reply.message)
    ctx.reply(SrvCreateCharReply(result=result, platininum=0))


async def on_delete_char_req(ctx: PacketContext[None], packet: CliDeleteCharReq) -> None:
    """Delete (``isDelete`` 1) or undelete (0) a character (§7.3 step 6); the reply carries
    the seconds left before the deletion takes effect (0 after an undelete or an immediate
    delete)."""
    session = ctx.session
    request = character_pb2.DeleteCharacterRequest(
        account_id=session.user_id or 0, character=_ref(session, packet.char_id)
    )
    stub = _character(ctx)
    rpc = stub.DeleteCharacter if packet.is_delete else stub.UndeleteCharacter
    try:
        reply = await rpc(request)
    except grpc.aio.AioRpcError as exc:
        _failure(exc, "character deletion", session)
        return
    if reply.deleted:  # gone at once: later list indexes move up, as in the client's list
        listed = session.plugin_data.get(LISTED) or ()
        session.plugin_data.set(LISTED, tuple(c for c in listed if c.name != reply.name))
    ctx.reply(SrvDeleteCharReply(remaining_time=clamp(reply.remaining_seconds, 32),
                                 name=wire_name(reply.name)))


async def on_select_char_req(ctx: PacketContext[None], packet: CliSelectCharReq) -> None:
    """Pick the character to play (§7.3 steps 7-8): the auth session moves to the world phase
    for it and ``PAKCC_SWITCH_SERVER`` names the world endpoint. This connection stays open
    (the client keeps it while it plays). A character the account does not have closes the
    connection, like osIROSE's index check."""
    session = ctx.session
    try:
        state = await _character(ctx).SelectCharacter(
            character_pb2.SelectCharacterRequest(account_id=session.user_id or 0,
                                                 character=_ref(session, packet.char_id))
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
            log.info("connection #%d: select of character %d refused: %s",
                     session.connection_id, packet.char_id, exc.details())
            ctx.close("selected a character that does not exist")
        elif exc.code() is grpc.StatusCode.FAILED_PRECONDITION:
            log.info("connection #%d: %s", session.connection_id, exc.details())
        else:
            _failure(exc, "character select", session)
        return
    if session.session_id is None:
        return
    try:
        await _auth(ctx).SetSessionPhase(
            auth_pb2.SetSessionPhaseRequest(session_id=session.session_id,
                                            phase=auth_pb2.SESSION_PHASE_WORLD,
                                            character_id=state.id, character_name=state.name)
        )
    except grpc.aio.AioRpcError as exc:
        _failure(exc, "character select (session phase)", session)
        if exc.code() is grpc.StatusCode.NOT_FOUND:
            ctx.close("session ended")
        return
    ip, port = public_address(session, ctx.settings)
    ctx.reply(SrvSwitchServer(port=port, session_id=session.session_id, session_seed=0, ip=ip))


# --- world --------------------------------------------------------------------------------------


async def on_change_char_req(ctx: PacketContext[None], packet: CliChangeCharReq) -> None:
    """Back to character select without a new login (§7.7): the auth session returns to the
    character select phase, the character is saved (on leaving the world), then
    ``PAKCC_CHAN_CHAR_REPLY``. The client joins the character leg again with its session id."""
    session = ctx.session
    if session.session_id is None:
        return
    try:
        await _auth(ctx).SetSessionPhase(
            auth_pb2.SetSessionPhaseRequest(session_id=session.session_id,
                                            phase=auth_pb2.SESSION_PHASE_CHARACTER_SELECT)
        )
    except grpc.aio.AioRpcError as exc:
        _failure(exc, "change of character", session)
        if exc.code() is grpc.StatusCode.NOT_FOUND:
            ctx.close("session ended")
        return
    await session.set_state(SessionState.CHARACTER_SELECT)  # saves (see the hook below)
    ctx.records.clear(session, SELECTED_CHARACTER)
    ctx.reply(SrvChanCharReply())


def _saves(runtime: object) -> BackgroundSaves | None:
    return cast(BackgroundSaves, runtime) if hasattr(runtime, "save_soon") else None


#: The base stats of :class:`CharacterProgress` ``stats``, in its order.
_STATS: Final = ("str", "dex", "int_", "con", "charm", "sense")


def stored_state(session: Session, playing: Playing) -> character_pb2.CharacterState:
    """What to store of the character of ``session``: a copy of its last loaded or stored
    state on the map and at the position of its world placement, with the level, XP, vitals,
    stats, points and skills of its progress record (each as it was without a world plugin or
    before the world wrote any)."""
    state = character_pb2.CharacterState()
    state.CopyFrom(playing.state)
    placement = session.records.get(WORLD_PLACEMENT)
    if placement is not None:
        state.map_id = clamp(placement.map_id, 16)
        state.x = placement.position.x
        state.y = placement.position.y
    progress = session.records.get(CHARACTER_PROGRESS)
    if progress is not None and progress is not playing.stale_progress:
        apply_progress(state, progress)
    return state


def apply_progress(state: character_pb2.CharacterState, progress: CharacterProgress) -> None:
    """Put ``progress`` on ``state``, each value clamped into what the character service
    stores: level and stats 16-bit (level at least 1), HP and MP from 0 to the int32 maximum,
    XP, points and penalty 32-bit, skills 16-bit ids in the state's skill slots (padded with 0
    or cut; :data:`MAX_SKILL_COUNT` slots at most, the service's)."""
    state.level = max(1, clamp(progress.level, 16))
    state.xp = clamp(progress.xp, 32)
    state.hp = clamp(progress.hp, 31)
    state.mp = clamp(progress.mp, 31)
    for name, value in zip(_STATS, progress.stats, strict=False):
        setattr(state.stats, name, clamp(value, 16))
    state.stat_points = clamp(progress.stat_points, 32)
    state.skill_points = clamp(progress.skill_points, 32)
    state.penalty_xp = clamp(progress.penalty_xp, 32)
    slots = min(len(state.skills) or MAX_SKILL_COUNT, MAX_SKILL_COUNT)
    skills = [clamp(v, 16) for v in tuple(progress.skills)[:slots]]
    del state.skills[:]
    state.skills.extend(skills + [0] * (slots - len(skills)))


async def store(
    session: Session,
    playing: Playing,
    change: Callable[[character_pb2.CharacterState], None] | None = None,
    *,
    final: bool = False,
    if_changed: bool = False,
) -> character_pb2.CharacterState | None:
    """One save of the character of ``session``, holding ``playing.lock``: what is stored is
    computed inside it (:func:`stored_state`, then ``change``), so saves never overlap and a
    later one always carries newer state; once stored it is the state the next save starts
    from. ``final`` marks the save on leaving the world (none runs after it); ``if_changed``
    skips the call when nothing changed since the last save. Returns what was stored, or
    ``None`` when skipped; the service's error is raised."""
    async with playing.lock:
        playing.queued = False
        if playing.left:
            return None
        if final:
            playing.left = True
        state = stored_state(session, playing)
        if change is not None:
            change(state)
        if if_changed and state == playing.state:
            return None
        batcher: SaveBatcher | None = getattr(playing.saves, "save_batcher", None)
        if batcher is None:
            await playing.character.SaveCharacter(character_pb2.SaveCharacterRequest(state=state))
        else:  # shares a SaveCharacters call with the saves pending beside it
            await batcher.save(playing.character, state)
        playing.state.CopyFrom(state)
        if change is not None:
            # The change (a GM command) is newer than the world's progress record of now:
            # later saves keep it until the world writes a new one.
            playing.stale_progress = session.records.get(CHARACTER_PROGRESS)
        return state


async def save_now(session: Session, playing: Playing, why: str, *, final: bool = False,
                   if_changed: bool = False) -> bool:
    """:func:`store` the character of ``session`` (``why``: for the log); a failure is logged,
    never raised. True when something was stored. A save on leaving the world (``final``)
    that fails, and any save cancelled (the shutdown deadline), is lost: counted and logged
    with the character's name (:func:`report_lost`)."""
    try:
        return await store(session, playing, final=final, if_changed=if_changed) is not None
    except asyncio.CancelledError:
        report_lost(session, playing, why,
                    "cancelled at the shutdown deadline (not confirmed stored)")
        raise
    except grpc.aio.AioRpcError as exc:
        _failure(exc, f"saving character {playing.state.id} ({why})", session)
        if final:
            report_lost(session, playing, why, f"{exc.code().name} {exc.details()}")
    except SaveRefused as exc:  # this entry of a batch (the others may have been stored)
        log.warning("connection #%d: saving character %d (%s) failed: %s",
                    session.connection_id, playing.state.id, why, exc)
        if final:
            report_lost(session, playing, why, str(exc))
    except Exception as exc:  # e.g. the channel is closed at shutdown: never break the close
        log.warning("connection #%d: saving character %d (%s) failed: %r",
                    session.connection_id, playing.state.id, why, exc)
        if final:
            report_lost(session, playing, why, repr(exc))
    return False


async def save_character(session: Session) -> None:
    """Store the character of a connection leaving the world, on the map and at the position
    of its world placement (the loaded ones without a world plugin) and with its progress
    record: the last save of it (after any other of it that runs); a failure is logged,
    never raised."""
    playing = session.plugin_data.pop(PLAYING)
    if playing is None:
        return
    getattr(playing.saves, "in_world", {}).pop(session.connection_id, None)
    await final_save(session, playing, "leaving the world")


async def final_save(session: Session, playing: Playing, why: str) -> bool:
    """The save on leaving the world of ``playing`` (popped from ``session`` by the caller),
    made known to the runtime while it runs (``final_saves``: its stop waits for them, and
    counts as lost those that do not end)."""
    running = getattr(playing.saves, "final_saves", None)
    if running is not None:
        running[id(playing)] = (session, playing)
    try:
        return await save_now(session, playing, why, final=True)
    finally:
        if running is not None:
            running.pop(id(playing), None)


def on_progress(session: Session, old: Any, new: Any) -> None:
    """Watcher of :data:`CHARACTER_PROGRESS`: a character whose level went up is saved at
    once, in the background (a level is what a player would miss most after a crash)."""
    if not isinstance(new, CharacterProgress):
        return
    playing = session.plugin_data.get(PLAYING)
    if playing is None or playing.saves is None or playing.left or playing.queued:
        return  # no character, no runtime, leaving, or a save is about to take the lock
    if new is playing.stale_progress or new.level <= playing.state.level:
        return  # not above the level last stored (the first record counts too)
    playing.queued = True
    playing.saves.save_soon(session, playing, f"level {new.level}")


# --- hooks --------------------------------------------------------------------------------------


@hookimpl
def gateway_register_packets(register: PacketRegistrar) -> None:
    """Joins, character select and change of character."""
    select = {SessionState.CHARACTER_SELECT}
    register(CliJoinServerReq.NAME, on_join_server_req, states={SessionState.CONNECTED})
    register(CliCharListReq.NAME, on_char_list_req, states=select)
    register(CliCreateCharReq.NAME, on_create_char_req, states=select)
    register(CliDeleteCharReq.NAME, on_delete_char_req, states=select)
    register(CliSelectCharReq.NAME, on_select_char_req, states=select)
    register(CliChangeCharReq.NAME, on_change_char_req, states={SessionState.IN_WORLD})


@hookimpl
async def gateway_session_state_changed(session: Session, old: SessionState,
                                        new: SessionState, runtime: Any) -> None:
    """Save the character of a connection that leaves the world (change of character,
    logout, disconnect)."""
    if old is SessionState.IN_WORLD and new is not SessionState.IN_WORLD:
        await save_character(session)
        gateway: GatewayView | None = getattr(runtime, "gateway", None)
        await release_world(session, closing=gateway is not None and gateway.closing)


async def release_world(session: Session, *, closing: bool = False) -> None:
    """Tell the auth service this connection no longer plays its session's character (after
    the save: the next world join must load what was stored). Best effort: a failure is
    logged; the hold of this gateway then lapses with its lease. Not while the gateway
    ``closing`` its connections at a shutdown: the auth plugin's stop then releases every
    session of the gateway in a few ReleaseSessions calls, which also clear its world
    connections (one call per player here would cost a commit each, thousands of them)."""
    joined = session.plugin_data.pop(WORLD_CONNECTION)
    if joined is None or closing:
        return
    auth, session_id = joined
    try:
        await auth.ReleaseWorld(auth_pb2.ReleaseWorldRequest(
            session_id=session_id, world_connection=world_connection(session)))
    except grpc.aio.AioRpcError as exc:
        log.warning("connection #%d: the world connection of session %d was not released: %s",
                    session.connection_id, session_id, exc.code().name)
