"""Items with the world sharded by map: the world calls of the items plugin (equipment, ground
items) go to the world service process holding the player's map, not to WORLD_SERVICE_ADDR.

Two world service processes on the items test pack: ``home`` owns every map but the arena
(map 30) and is WORLD_SERVICE_ADDR; ``arena`` owns the arena, where new characters start. A
cap equipped and a potion dropped and picked up there are seen by another player on the arena:
only the arena's world service could have done them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from gateway_core.api import WORLD_PLACEMENT
from gateway_core.protocol.packets import (
    CliDropItem,
    CliEquipItem,
    CliPickupItemReq,
    PickupItemResult,
    SrvDropItem,
    SrvEquipItem,
    SrvPickupItemReply,
    SrvSetItem,
)
from gateway_core.testing import (
    ServiceProcess,
    running_gateway,
    start_service_in_thread,
    started_services,
)

from .test_items_e2e import CAP, PACK, POTION, SETTINGS, Arena

pytestmark = pytest.mark.anyio

ARENA_MAP = 30
#: What both world service processes run with.
WORLD_SETTINGS: dict[str, object] = {
    "WORLD_CONTENT": str(PACK),
    "WORLD_VIEW_RADIUS": 5000.0,
    "WORLD_TICK_INTERVAL": 0.05,
    "WORLD_WANDER_INTERVAL": 3600.0,
    "WORLD_RANDOM_SEED": 11,
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def sharded(tmp_path: Path) -> AsyncIterator[tuple[Arena, ServiceProcess]]:
    with started_services() as homes, started_services() as arenas:
        async with anyio.create_task_group() as tg:
            tg.start_soon(start_service_in_thread, homes, "world",
                          {**WORLD_SETTINGS, "WORLD_SERVICE_MAPS": "0-29,31-65535"},
                          "127.0.0.1:0")
            tg.start_soon(start_service_in_thread, arenas, "world",
                          {**WORLD_SETTINGS, "WORLD_SERVICE_MAPS": str(ARENA_MAP)},
                          "127.0.0.1:0")
        (home,), (arena,) = homes, arenas
        settings = {
            **SETTINGS, "DATA_DIR": str(tmp_path / "data"),
            "WORLD_SERVICE_ADDR": home.address,
            "WORLD_SHARDS": f"0-29,31-65535={home.address};{ARENA_MAP}={arena.address}",
        }
        async with running_gateway(settings, Arena) as running:
            yield running, arena


async def test_equipment_and_ground_items_go_to_the_shard_of_the_players_map(
    sharded: tuple[Arena, ServiceProcess],
) -> None:
    gateway, arena = sharded
    alice = await gateway.player("Alice")
    bob = await gateway.player("Bob")
    assert alice.session.records.require(WORLD_PLACEMENT).world_address == arena.address

    cap = await gateway.slot_of(alice, CAP)
    await alice.send(CliEquipItem(slot_to=2, slot_from=cap))
    await alice.expect(SrvSetItem, "cap on")
    shown = await bob.expect(SrvEquipItem, "bob sees the cap", lambda p: p.id == alice.object_id)
    assert (shown.slot, int(shown.item) & 0x3FF) == (2, CAP[1])

    slot = await gateway.slot_of(alice, POTION)
    await alice.send(CliDropItem(index=slot, quantity=1))
    await alice.expect(SrvSetItem, "potion dropped")
    potion = await bob.expect(SrvDropItem, "bob sees the potion",
                              lambda p: p.item.header.type == POTION[0])
    await alice.send(CliPickupItemReq(item_id=potion.id))
    back = await alice.expect(SrvPickupItemReply, "potion back")
    assert back.result == PickupItemResult.OK and back.slot == slot
    stored = await gateway.stored(alice.character_id)
    assert stored.inventory[2].header != 0 and stored.inventory[slot].data == 3
    assert gateway.sample("gateway_items_refused_total", {"reason": "world_unavailable"}) == 0
