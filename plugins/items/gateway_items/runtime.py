"""The items plugin's runtime on one gateway: its refusal counter, the content pack, and the
per-session inventory view.

The inventory is the character service's; what the plugin keeps per session
(:class:`ItemsState`, in ``session.plugin_data``) is its last known view of it: loaded from
``GetCharacter`` the first time a handler needs it (lazily, so a join that never touches an
item costs nothing), then kept current from the slots every ``ChangeItems`` reply says it
touched. It only chooses what to ask for (which item a slot holds, where an unequipped item
goes): the service checks every operation against what it really holds, and a refusal that
says the view was wrong (``NOT_HELD``, ``BAD_SLOT``) drops it so that the next request reloads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

from gateway_protos.v1 import character_pb2, common_pb2
from prometheus_client import Counter

from gateway_core.api import (
    WORLD_PLACEMENT,
    ContentPack,
    GatewayView,
    Key,
    PacketContext,
    PluginRuntime,
    Session,
    SessionState,
    client_at,
    load_content,
)
from gateway_items.rules import EMPTY, INVENTORY_SLOTS, SlotItem, inventory_weight

log = logging.getLogger(__name__)

#: The plugin's name (metric prefix, log prefix).
PLUGIN = "items"
#: Backend services the handlers call.
CHARACTER = "character"
WORLD = "world"


def world_of(ctx: PacketContext[Any]) -> Any:
    """The world stub for a request about the player's character: the world service process
    its map is on (the shard, with the world sharded by map; its placement says which), else
    the one world service. A trade or a stall is between characters of one map, so of one
    shard: the requester's."""
    placement = ctx.session.records.get(WORLD_PLACEMENT)
    return client_at(ctx.clients, WORLD, placement.world_address if placement is not None else "")


@dataclass(slots=True)
class ItemsState:
    """The last known inventory of a session's character (``session.plugin_data[STATE]``)."""

    character_id: int
    inventory: list[SlotItem]
    zuly: int
    job: int
    level: int
    stats: tuple[int, int, int, int, int, int]
    #: Total inventory weight: the content's sum at load, then each ChangeItems reply's.
    weight: int
    hotbar: list[int] = field(default_factory=list)

    @classmethod
    def from_character(cls, state: character_pb2.CharacterState, content: ContentPack
                       ) -> ItemsState:
        inventory = [SlotItem(item.header, item.data) for item in state.inventory]
        inventory += [EMPTY] * (INVENTORY_SLOTS - len(inventory))
        stats = state.stats
        return cls(
            character_id=state.id,
            inventory=inventory[:INVENTORY_SLOTS],
            zuly=state.money,
            job=state.job,
            level=state.level,
            stats=(stats.str, stats.dex, stats.int_, stats.con, stats.charm, stats.sense),
            weight=inventory_weight(content, inventory),
            hotbar=list(state.hotbar),
        )

    def apply(self, reply: character_pb2.ChangeItemsReply) -> None:
        """Take in an applied change: the slots it touched, zuly, weight."""
        self.set_slots(reply.changed)
        self.zuly = reply.zuly
        self.weight = reply.weight

    def set_slots(self, slots: Iterable[character_pb2.SlotItem]) -> None:
        for changed in slots:
            if changed.slot < INVENTORY_SLOTS:
                self.inventory[changed.slot] = SlotItem(changed.item.header, changed.item.data)

    def equipped_refs(self) -> list[common_pb2.ItemRef]:
        """Every equipped item (slots 1-11) by the client's numbering."""
        return [common_pb2.ItemRef(item_type=item.item_type, item_number=item.item_number)
                for item in self.inventory[1:12] if not item.empty]


#: Per-session inventory view.
STATE = Key[ItemsState]("items.state")


class ItemsRuntime(PluginRuntime):
    """Kept per running gateway: the content pack and ``gateway_items_refused_total{reason}``."""

    def __init__(self, gateway: GatewayView, content: ContentPack | None = None) -> None:
        super().__init__(gateway)
        # The pack the world service plays (WORLD_CONTENT; the built-in one when it is empty
        # or the world plugin is not loaded).
        self.content = content if content is not None else load_content(
            str(getattr(gateway.settings, "WORLD_CONTENT", "") or ""))
        self.refused = Counter(
            "gateway_items_refused",
            "Item requests the items plugin refused (nothing changed), by reason.",
            ["reason"],
            registry=gateway.metrics_registry,
        )
        self._settling: set[asyncio.Task[None]] = set()

    def settle(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` (settling a change whose answer was lost) in a tracked task."""
        task = asyncio.get_running_loop().create_task(work, name="items settle")
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def stop(self) -> None:
        """Cancel the settlements still running (their take tokens lapse in the world)."""
        tasks = set(self._settling)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def refuse(self, session: Session, reason: str, detail: str = "") -> None:
        """Count and log a request that was not carried out."""
        self.refused.labels(reason).inc()
        log.info(
            "items: refused a request of connection #%d (%s)%s",
            session.connection_id,
            reason,
            f": {detail}" if detail else "",
        )

    def session_state_changed(self, session: Session, old: SessionState, new: SessionState
                              ) -> None:
        """Leaving the world forgets the view (a new join may play another character)."""
        if old is SessionState.IN_WORLD:
            session.plugin_data.pop(STATE)

    def session_closed(self, session: Session) -> None:
        session.plugin_data.pop(STATE)
