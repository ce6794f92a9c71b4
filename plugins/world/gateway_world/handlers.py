"""Client-facing packet handlers of the world plugin: entering the map, movement, normal chat,
animations and teleports (docs/protocol.md §7.4 steps 5-7, §7.5, §7.6, §7.7).

The character is put on its map when its connection enters the world (the plugin's state
hook, :meth:`gateway_world.runtime.WorldRuntime.entered`). ``PAKCS_CHANGE_MAP_REQ`` (the client
loaded the map) is answered with ``PAKWC_CHANGE_MAP_REPLY`` and then marks the character ready,
upon which the world service exchanges the spawns with the players around. Movement, normal
chat and animations go to the world service, which sends them to the players within the view
radius (the actor included) on whichever gateway hosts them; this gateway turns the events
for its own players into packets (:mod:`gateway_world.delivery`).

Strategy: every handler checks that its connection is on the map through this gateway's world
link and that the client's values are usable (finite coordinates, a message that fits a
packet) before sending anything. What cannot be carried out is dropped and counted
(``gateway_world_drops_total{reason}``), never raised; a normal-chat line the world service
cannot take gets a whisper from the server saying so. Movement and chat need no answer from the
world and go out without waiting, unless the link's outbox is full: then the handler waits a
bounded time for room, and since a suspended handler pauses reading from its client, the client
that causes the load is slowed by TCP before anything is dropped. Entering the map and
teleports wait for the world's answer (at most WORLD_GRPC_DEADLINE, else GRPC_DEADLINE).

Positions are the server's (docs/protocol.md §10.12): the handlers never write the client's
claim into the placement record; the world service's ``placed`` events and teleport answers do
(:mod:`gateway_world.runtime`). A stop point the world cannot explain is corrected with
``PAKWC_SET_POSITION``; a point outside the map is refused; both are counted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeAlias

import grpc

from gateway_core.api import (
    SELECTED_CHARACTER,
    TEXT_ENCODING,
    WORLD_PLACEMENT,
    ChatKind,
    CliAttack,
    CliChangeMapReq,
    CliDamage,
    CliHpReq,
    CliMouseCmd,
    CliNormalChat,
    CliReviveReq,
    CliSetAnimation,
    CliSetPosition,
    CliSkillCastPosition,
    CliSkillCastSelf,
    CliSkillCastTarget,
    CliSkillLevelReq,
    CliStatAddReq,
    CliStopMoving,
    CliTeleportReq,
    CliToggleMove,
    Packet,
    Session,
    SessionState,
    SrvChangeMapReply,
    SrvWhisperChat,
)
from gateway_world.delivery import WorldLink, WorldRequestError
from gateway_world.runtime import PRESENCE, WorldPresence, WorldRuntime, wire_position
from gateway_world.service.limits import MAX_MESSAGE_BYTES

if TYPE_CHECKING:
    from gateway_core.api import PacketContext, PacketRegistrar

log = logging.getLogger("gateway.world")

if TYPE_CHECKING:
    #: What the handlers get: the runtime is this gateway's (None without the backend).
    Ctx: TypeAlias = PacketContext[WorldRuntime | None]


#: Sender name of the whispers the gateway itself sends (docs/protocol.md §10.7).
SERVER_SENDER: Final = "server msg"
#: What a client whose normal chat could not be carried is told.
CHAT_UNAVAILABLE: Final = "Chat is unavailable right now; please try again later."
#: What a client whose map entry failed is told.
WORLD_UNAVAILABLE: Final = "The world is unavailable right now; other players may not be shown."

_MAX_U16: Final = 0xFFFF


def server_message(text: str) -> SrvWhisperChat:
    """A whisper from the server (sender ``server msg``) carrying ``text``."""
    return SrvWhisperChat(
        sender=SERVER_SENDER.encode(TEXT_ENCODING),
        message=text.encode(TEXT_ENCODING, "replace"),
    )


def chat_message(raw: bytes) -> str | None:
    """The text of a client's chat line, or None when it is empty or longer than any chat
    packet can carry back (:data:`MAX_MESSAGE_BYTES` UTF-8 bytes, the service's limit)."""
    text = raw.decode(TEXT_ENCODING, "replace")
    if not text or len(text.encode("utf-8")) > MAX_MESSAGE_BYTES:
        return None
    return text


def _u16(value: float) -> int:
    return min(max(int(value), 0), _MAX_U16)


@dataclass(frozen=True, slots=True)
class _OnMap:
    """A connection whose character is on its map through this gateway's world link."""

    runtime: WorldRuntime
    link: WorldLink
    character_id: int
    presence: WorldPresence


def _on_map(ctx: Ctx, what: str, *, ready: bool = True) -> _OnMap | None:
    """The world context of the connection, or None (counted) when the request cannot go to
    the world: no world link, not on the map yet, or (with ``ready``) the map not loaded."""
    session = ctx.session
    runtime = ctx.runtime
    if runtime is None:
        log.info("world: %s of connection #%d dropped: no world link", what, session.connection_id)
        return None
    presence = session.plugin_data.get(PRESENCE)
    character = session.records.get(SELECTED_CHARACTER)
    if presence is None or character is None or not presence.entered:
        runtime.drop(session, "not_on_map", what)
        return None
    if ready and not presence.ready:
        runtime.drop(session, "map_not_loaded", what)
        return None
    # One world service: its one link; sharded, the link of the shard the character is on.
    link = runtime.link if runtime.shards is None else runtime.link_of(character.character_id)
    if link is None:
        runtime.drop(session, "not_on_map", what)
        return None
    return _OnMap(runtime, link, character.character_id, presence)


def _object_id(session: Session) -> int:
    placement = session.records.get(WORLD_PLACEMENT)
    return _u16(placement.object_id or 0) if placement is not None else 0


def change_map_reply(session: Session, presence: WorldPresence | None) -> SrvChangeMapReply:
    """PAKWC_CHANGE_MAP_REPLY for ``session`` (§7.4 step 6): its object id and vitals (each
    clamped to the u16 field; 0 where unknown), every rate, flag and the world time 0."""
    if presence is None:
        return SrvChangeMapReply(object_index=_object_id(session))
    return SrvChangeMapReply(
        object_index=_object_id(session),
        hp=_u16(presence.hp),
        mp=_u16(presence.mp),
        xp=_u16(presence.xp),
        penalize_xp=_u16(presence.penalty_xp),
        team_number=_u16(presence.team),
    )


# --- map entry ----------------------------------------------------------------------------------


async def on_change_map_req(ctx: Ctx, packet: CliChangeMapReq) -> None:
    """The client loaded the map (§7.4 steps 5-7): ``PAKWC_CHANGE_MAP_REPLY``, then the world
    service exchanges spawns (``PAKWC_PLAYER_CHAR``) with the players around.

    A character the world could not take on entering is entered again first. When the world
    is unavailable the client still gets its reply (it would otherwise wait on the loading
    screen) and a server whisper saying the world is unavailable; the failure is counted.
    Sent again after a teleport, it makes the character visible again.
    """
    session = ctx.session
    runtime = ctx.runtime
    presence = session.plugin_data.get(PRESENCE)
    character = session.records.get(SELECTED_CHARACTER)
    if runtime is None or presence is None or character is None:
        log.warning(
            "world: connection #%d loaded its map without a world link", session.connection_id
        )
        ctx.reply(change_map_reply(session, presence))
        return
    if not presence.entered and not await runtime.enter(session, presence):
        ctx.reply(change_map_reply(session, presence))
        ctx.reply(server_message(WORLD_UNAVAILABLE))
        return
    # The reply goes first: the spawns the `ready` triggers arrive on the world stream later.
    ctx.reply(change_map_reply(session, presence))
    link = runtime.link_of(character.character_id)
    try:
        if link is None:
            raise WorldRequestError(grpc.StatusCode.UNAVAILABLE, "on no world shard")
        await link.ready(character.character_id)
    except WorldRequestError as exc:
        runtime.drop(session, "world_unavailable", f"ready: {exc}")
        ctx.reply(server_message(WORLD_UNAVAILABLE))
        return
    presence.ready = True


# --- movement -----------------------------------------------------------------------------------


async def on_mouse_cmd(ctx: Ctx, packet: CliMouseCmd) -> None:
    """Click to move (§7.6): the world service sends ``PAKWC_MOUSE_CMD`` to the players that
    see the mover, the mover included. A target that is no object of the map is ignored by
    the world (walk to the point); a destination outside the map is refused by it (counted
    ``out_of_bounds``). The placement follows the world's answer (``placed``)."""
    on_map = _on_map(ctx, "mouse_cmd")
    if on_map is None:
        return
    destination = wire_position(packet.x, packet.y, packet.z)
    if destination is None:
        on_map.runtime.drop(ctx.session, "bad_position", "mouse_cmd")
        return
    if not await on_map.link.amove(on_map.character_id, packet.target_id, destination):
        on_map.runtime.drop(ctx.session, "world_unavailable", "mouse_cmd")


async def on_stop_moving(ctx: Ctx, packet: CliStopMoving) -> None:
    """The client stopped at a point (§7.6): the world sets the position there; the players
    that see it get ``PAKWC_STOP_MOVING``. A point farther from the world's position of the
    character than WORLD_POSITION_TOLERANCE is not taken: the client gets
    ``PAKWC_SET_POSITION`` with the world's (counted ``position_corrected``, §10.12)."""
    on_map = _on_map(ctx, "stop_moving")
    if on_map is None:
        return
    position = wire_position(packet.x, packet.y, packet.z)
    if position is None:
        on_map.runtime.drop(ctx.session, "bad_position", "stop_moving")
        return
    if not await on_map.link.astop(on_map.character_id, position):
        on_map.runtime.drop(ctx.session, "world_unavailable", "stop_moving")


async def on_set_position(ctx: Ctx, packet: CliSetPosition) -> None:
    """The client claims to stand at a point (§10.12): taken like a stop there, at the height
    the world has the character at, so a point its walk cannot explain is corrected with
    ``PAKWC_SET_POSITION`` (counted ``position_corrected``) and never saved."""
    on_map = _on_map(ctx, "set_position")
    if on_map is None:
        return
    placement = ctx.session.records.get(WORLD_PLACEMENT)
    z = placement.position.z if placement is not None else 0.0
    position = wire_position(packet.x, packet.y, z)
    if position is None:
        on_map.runtime.drop(ctx.session, "bad_position", "set_position")
        return
    if not await on_map.link.astop(on_map.character_id, position):
        on_map.runtime.drop(ctx.session, "world_unavailable", "set_position")


async def on_teleport_req(ctx: Ctx, packet: CliTeleportReq) -> None:
    """The client walked into a warp gate (§7.7, §10.3): ``id`` is the gate of the content
    pack. The world service checks that the character, where the service has it (the
    client's ``x, y`` are not trusted), is on the gate's map within its radius; then it is at
    the gate's destination and gets ``PAKWC_TELEPORT_REPLY`` with the map and point, reloads
    the map and sends ``PAKCS_CHANGE_MAP_REQ``, which brings the spawns of the new place. An
    unknown gate, a gate of another map or a gate out of reach is refused: no reply, nothing
    changes, counted (``unknown_gate``, ``gate_on_other_map``, ``gate_out_of_range``).
    """
    on_map = _on_map(ctx, "teleport", ready=False)
    if on_map is None:
        return
    await on_map.runtime.use_gate(ctx.session, packet.id)


# --- chat and actions ---------------------------------------------------------------------------


async def on_normal_chat(ctx: Ctx, packet: CliNormalChat) -> None:
    """Say something nearby (§7.5): ``PAKWC_NORMAL_CHAT`` to the players within the view
    radius, the speaker included, on any gateway. The line goes through the core's chat guard
    first (``ctx.chat_line``: control characters removed, the player's chat rate limits); an
    empty or oversize line is dropped (counted); a line the world cannot take gets a server
    whisper saying chat is unavailable.
    """
    on_map = _on_map(ctx, "normal_chat")
    if on_map is None:
        return
    line = ctx.chat_line(packet.message, ChatKind.NORMAL)
    if line is None:
        return
    text = chat_message(line)
    if text is None:
        on_map.runtime.drop(ctx.session, "bad_message", f"{len(packet.message)} bytes")
        return
    if not await on_map.link.asay(on_map.character_id, text):
        on_map.runtime.drop(ctx.session, "world_unavailable", "normal_chat")
        ctx.reply(server_message(CHAT_UNAVAILABLE))


async def on_set_animation(ctx: Ctx, packet: CliSetAnimation) -> None:
    """Emotes and sitting (§7.6): routed to the world as a game action, which relays
    ``PACWC_SET_ANIMATION`` to the players around, the actor included."""
    on_map = _on_map(ctx, "set_animation")
    if on_map is None:
        return
    payload = packet.encode_payload()
    if not await on_map.link.aact(on_map.character_id, CliSetAnimation.NAME, payload):
        on_map.runtime.drop(ctx.session, "world_unavailable", "set_animation")


# --- combat ---------------------------------------------------------------------------------------

#: The combat packets the world service decides (docs/combat.md): routed as game actions.
COMBAT_ACTIONS: Final = (
    CliAttack,
    CliHpReq,
    CliStatAddReq,
    CliToggleMove,
    CliSkillLevelReq,
    CliSkillCastSelf,
    CliSkillCastTarget,
    CliSkillCastPosition,
)


async def on_combat_action(ctx: Ctx, packet: Packet) -> None:
    """Attack, HP request, stat points, walk/run, skills: the world service checks and
    decides each (the client only asks); what follows reaches the players around as the
    protocol's packets. A refusal changes nothing and is counted by the world's reason."""
    name = packet.NAME.lower().removeprefix("pakcs_")
    on_map = _on_map(ctx, name)
    if on_map is None:
        return
    if not await on_map.link.aact(on_map.character_id, packet.NAME, packet.encode_payload()):
        on_map.runtime.drop(ctx.session, "world_unavailable", name)


async def on_damage(ctx: Ctx, packet: CliDamage) -> None:
    """A client's claim of damage is never taken (the world computes every hit): dropped
    and counted ``untrusted_damage``."""
    runtime = ctx.runtime
    if runtime is not None:
        runtime.drop(ctx.session, "untrusted_damage", f"claimed on object {packet.target_id}")


async def on_revive_req(ctx: Ctx, packet: CliReviveReq) -> None:
    """A dead character asks to come back (PAKCS_REVIVE_REQ, by its revive type): the world
    picks the point; the client gets PAKWC_REVIVE_REPLY and PAKWC_TELEPORT_REPLY and reloads
    the map. A living character's request is refused (counted ``alive``)."""
    on_map = _on_map(ctx, "revive", ready=False)
    if on_map is None:
        return
    await on_map.runtime.revive(ctx.session, int(packet.revive_type))


def register_packets(register: PacketRegistrar) -> None:
    """Claim the world packets, each accepted in the world only."""
    world = {SessionState.IN_WORLD}
    register(CliChangeMapReq.NAME, on_change_map_req, states=world)
    register(CliMouseCmd.NAME, on_mouse_cmd, states=world)
    register(CliStopMoving.NAME, on_stop_moving, states=world)
    register(CliSetPosition.NAME, on_set_position, states=world)
    register(CliTeleportReq.NAME, on_teleport_req, states=world)
    register(CliNormalChat.NAME, on_normal_chat, states=world)
    register(CliSetAnimation.NAME, on_set_animation, states=world)
    for action in COMBAT_ACTIONS:
        register(action.NAME, on_combat_action, states=world)
    register(CliDamage.NAME, on_damage, states=world)
    register(CliReviveReq.NAME, on_revive_req, states=world)
