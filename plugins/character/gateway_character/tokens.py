"""Token joins (``PAKCS_JOIN_SERVER_TOKEN_REQ``, numbering 2026 only) are refused, and counted.

The protocol defines the packet as the session id and one string, ``token``, and nothing
else: no issuer, no format, no server that handles it (docs/protocol.md §10.14). The auth
service checks a join by the session id and the account's password hash
(``PAKCS_JOIN_SERVER_REQ``) and issues no token, so a token cannot be checked honestly. The
gateway answers ``PAKSC_JOIN_SERVER_REPLY { result = FAILED }`` (a result every client knows,
§7.3 step 3) and leaves the connection open for a password join. Each refusal is logged and
counted (``gateway_character_token_refusals_total``).

The plugin's runtime (:class:`CharacterRuntime`) also runs the character saves that happen
while a character is in the world: the one on a level-up (:func:`~gateway_character.handlers.
on_progress`), each in a task it tracks, and the autosave, every in-world character saved
every CHARACTER_AUTOSAVE_SECONDS (when it changed), so a killed gateway loses at most that
much progress.

Every save goes through :attr:`CharacterRuntime.save_batcher`
(:mod:`gateway_character.saves`): the saves pending at once share one SaveCharacters call,
so the saves of thousands of players leaving at a shutdown take a few calls instead of one
each (which timed most of them out); the gateway's shutdown waits for them (those of
connections that just closed included) before its channels and embedded services stop. A
save that cannot be made (cancelled at the shutdown deadline, or a save on leaving the world
that failed) is logged with the character's name and counted
(``gateway_character_saves_lost_total``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Final, TypeAlias

from prometheus_client import Counter

from gateway_character.handlers import PLAYING, Playing, final_save, report_lost, save_now
from gateway_character.saves import SaveBatcher
from gateway_core.api import (
    CliJoinServerTokenReq,
    GatewayView,
    JoinResult,
    PluginRuntime,
    Session,
    SessionState,
    SrvJoinServerReply,
)

if TYPE_CHECKING:
    from gateway_core.api import PacketContext, PacketRegistrar

log = logging.getLogger("gateway.character")

#: The metric (``_total`` is added by the client library).
METRIC: Final = "gateway_character_token_refusals"
#: Default of CHARACTER_AUTOSAVE_SECONDS.
AUTOSAVE_SECONDS: Final = 60.0
#: Most saves of one autosave round waiting at once (they share SaveCharacters calls).
AUTOSAVE_CONCURRENCY: Final = 256
#: Seconds the runtime's stop waits for the background saves still running.
STOP_GRACE: Final = 2.0
#: The metric of lost saves (``_total`` is added by the client library).
LOST_METRIC: Final = "gateway_character_saves_lost"


class CharacterRuntime(PluginRuntime):
    """The character plugin's state on one gateway (``ctx.runtime`` of the plugin's
    handlers): the refusal counter of token joins on the gateway's metrics registry, the
    background saves (:meth:`save_soon`, awaited for a moment then cancelled by :meth:`stop`)
    and the autosave (:meth:`autosave` every ``CHARACTER_AUTOSAVE_SECONDS``; 0 disables it).
    """

    def __init__(self, gateway: GatewayView) -> None:
        super().__init__(gateway)
        self.token_refusals = Counter(
            METRIC, "Token join requests refused (the protocol defines no token to check), "
            "by packet type.", ["packet"], registry=gateway.metrics_registry,
        )
        self.autosave_seconds = float(
            getattr(gateway.settings, "CHARACTER_AUTOSAVE_SECONDS", AUTOSAVE_SECONDS)
        )
        self.saves_lost = Counter(
            LOST_METRIC, "Character saves that could not be made (cancelled at the shutdown "
            "deadline, or a save on leaving the world that failed); each is logged with the "
            "character's name.", registry=gateway.metrics_registry,
        )
        #: Batches every save (leaving, level, autosave, GM) into SaveCharacters calls.
        self.save_batcher = SaveBatcher()
        self._tasks: set[asyncio.Task[bool]] = set()
        #: The saves on leaving the world under way (:func:`~gateway_character.handlers.
        #: final_save`), by id of their Playing.
        self.final_saves: dict[int, tuple[Session, Playing]] = {}
        #: The sessions that joined the world with a character and have not begun its save
        #: on leaving, by connection id (a close cut short at the deadline leaves them here).
        self.in_world: dict[int, Session] = {}
        self._autosave: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        """Start the autosave (unless CHARACTER_AUTOSAVE_SECONDS is 0)."""
        self._stopping = False
        if self.autosave_seconds > 0 and self._autosave is None:
            self._autosave = asyncio.create_task(self._autosave_loop(),
                                                 name="character autosave")

    async def stop(self) -> None:
        """Stop the autosave and finish every save on leaving the world.

        The gateway's shutdown has closed the connections, and their close hooks saved
        their characters. Those it gave up on at its deadline (cancelled before the
        character plugin's hook, or still queued behind others) have not: their characters
        (:attr:`in_world`) are saved here, all at once (in a few SaveCharacters calls).
        The saves on leaving still running are waited for, the background saves get
        :data:`STOP_GRACE` seconds, then are cancelled. A save on leaving that has not
        ended when this stop is cut short (the deadline) is counted and logged as lost:
        never dropped in silence."""
        self._stopping = True
        autosave, self._autosave = self._autosave, None
        if autosave is not None:
            autosave.cancel()
            await asyncio.gather(autosave, return_exceptions=True)
        try:
            playing_here, self.in_world = self.in_world, {}
            orphans = [(session, playing) for session in playing_here.values()
                       if (playing := session.plugin_data.pop(PLAYING)) is not None]
            if orphans:
                log.warning("saving %d characters whose connections' close did not reach "
                            "their save", len(orphans))
                await asyncio.gather(*(final_save(session, playing, "shutdown")
                                       for session, playing in orphans))
            tasks = set(self._tasks)
            if tasks:
                _, pending = await asyncio.wait(tasks, timeout=STOP_GRACE)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            while self.final_saves:
                await asyncio.sleep(0.01)
            await self.save_batcher.aclose()
        finally:
            for session, playing in list(self.final_saves.values()):
                report_lost(session, playing, "leaving the world",
                            "not done when the shutdown deadline passed")

    def save_lost(self, session: Session, playing: Playing, why: str, reason: str) -> None:
        """Count and log (with the character's name) a save that will not be made."""
        self.saves_lost.inc()
        log.error("connection #%d: character %r (%d) NOT saved (%s): %s",
                  session.connection_id, playing.state.name, playing.state.id, why, reason)

    @property
    def background_saves(self) -> int:
        """How many background saves are running or waiting for their character's lock."""
        return len(self._tasks)

    def save_soon(self, session: Session, playing: Playing, why: str) -> None:
        """Save the character of ``session`` in a task of its own (tracked; a failure is
        logged); nothing once the runtime stops."""
        try:
            if self._stopping:
                raise RuntimeError("the character runtime is stopping")
            task = asyncio.get_running_loop().create_task(
                save_now(session, playing, why),
                name=f"save character {playing.state.id}",
            )
        except RuntimeError as exc:
            playing.queued = False
            log.warning("connection #%d: character %d not saved (%s): %s",
                        session.connection_id, playing.state.id, why, exc)
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def autosave(self) -> int:
        """One autosave round: every character in the world on this gateway saved once when
        it changed since its last save (at most :data:`AUTOSAVE_CONCURRENCY` at a time);
        returns how many were stored."""
        semaphore = asyncio.Semaphore(AUTOSAVE_CONCURRENCY)

        async def save(session: Session, playing: Playing) -> bool:
            async with semaphore:
                return await save_now(session, playing, "autosave", if_changed=True)

        saves = [
            save(session, playing)
            for session in self.gateway.connections.in_state(SessionState.IN_WORLD)
            if (playing := session.plugin_data.get(PLAYING)) is not None
        ]
        return sum(await asyncio.gather(*saves))

    async def _autosave_loop(self) -> None:
        period = self.autosave_seconds
        while True:
            started = time.monotonic()
            await asyncio.sleep(period)
            try:
                stored = await self.autosave()
            except Exception:  # never let the autosave die
                log.exception("character autosave failed")
                continue
            if stored:
                log.debug("autosave stored %d characters in %.2fs", stored,
                          time.monotonic() - started - period)


if TYPE_CHECKING:
    Ctx: TypeAlias = PacketContext[CharacterRuntime | None]


async def on_join_server_token_req(ctx: Ctx, packet: CliJoinServerTokenReq) -> None:
    """Refuse a token join with FAILED; the connection may still join with a password."""
    if ctx.runtime is not None:
        ctx.runtime.token_refusals.labels(CliJoinServerTokenReq.NAME).inc()
    log.info("connection #%d: %s for session %d refused (%d-byte token; no token is defined)",
             ctx.session.connection_id, CliJoinServerTokenReq.NAME, packet.session_id,
             len(packet.token))
    ctx.reply(SrvJoinServerReply(result=JoinResult.FAILED))


def register_token_packets(register: PacketRegistrar) -> None:
    """Claim the token join where the gateway's numbering has it (2026; 2021 lacks it, so no
    such packet can arrive there)."""
    if CliJoinServerTokenReq.NAME in register.profile:
        register(CliJoinServerTokenReq.NAME, on_join_server_token_req,
                 states={SessionState.CONNECTED})

