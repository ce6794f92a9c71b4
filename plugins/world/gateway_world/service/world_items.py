"""Items in the world: taking loot off the ground, putting it back, dropping items and zuly,
the NPCs a character may trade with, visible equipment and consumables.

Strategy: the inventory is the character service's; the world holds what lies on the ground
and what the others see. A pick-up is two steps across two services, so the ground item
leaves the ground at once when taken (two takers get it once) and is handed back with its
token when the inventory had no room; a taken item whose token is never used again lapses
after :data:`TOKEN_SECONDS` (the gateway that took it died: the pick-up was never
acknowledged). Everything runs on the service's event loop, like the rest of the state.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Final

import grpc
from gateway_protos.v1 import world_pb2

from gateway_core.api import (
    EquippedItem,
    ProjectileData,
    ServiceError,
    SrvEquipItem,
    SrvEquipItemRide,
    SrvEquipProjectile,
)
from gateway_world.service.combat import (
    GROUND_ITEM_SECONDS,
    OWNER_WINDOW_SECONDS,
    ZULY_ITEM_TYPE,
    item_bonus,
)
from gateway_world.service.entities import Entity, GroundDrop, MapState
from gateway_world.service.formulas import Bonus
from gateway_world.service.state import WorldState

#: How far (map units, from where the service has the character) loot may be picked up.
PICKUP_RANGE: Final = 400.0
#: How far from the character a dropped item falls.
DROP_SCATTER: Final = 60.0
#: Seconds a taken item's token may put it back.
TOKEN_SECONDS: Final = 60.0


@dataclass(slots=True)
class _Taken:
    instance: MapState
    entity: Entity
    taken_at: float


def _shown(entity: Entity, request: world_pb2.SetEquipmentRequest
           ) -> SrvEquipItem | SrvEquipItemRide | SrvEquipProjectile:
    """The packet that shows a SetEquipment's change to those around."""
    if request.change == world_pb2.EQUIP_CHANGE_RIDE:
        return SrvEquipItemRide(char_id=entity.object_id, slot=request.slot,
                                item=EquippedItem(request.item & 0xFFFFFFFF),
                                move_speed=min(0xFFFF, max(0, int(entity.speed))))
    if request.change == world_pb2.EQUIP_CHANGE_PROJECTILE:
        return SrvEquipProjectile(char_id=entity.object_id,
                                  projectile=ProjectileData(request.item & 0xFFFF))
    return SrvEquipItem(id=entity.object_id, slot=request.slot,
                        item=EquippedItem(request.item & 0xFFFFFFFF))


class WorldItems:
    """The item operations of one :class:`WorldState`."""

    def __init__(self, state: WorldState) -> None:
        self.state = state
        self._tokens = itertools.count(1)
        self._taken: dict[int, _Taken] = {}
        #: Ground items taken, put back and dropped.
        self.taken = 0
        self.put_back_count = 0
        self.dropped = 0

    def _character(self, character_id: int) -> Entity:
        entity = self.state.characters.get(character_id)
        if entity is None:
            raise ServiceError(grpc.StatusCode.NOT_FOUND,
                               f"character {character_id} is not on any map")
        return entity

    def take(self, character_id: int, object_id: int) -> world_pb2.TakeGroundItemReply:
        """Take a ground item for ``character_id`` (see the module)."""
        entity = self._character(character_id)
        self._lapse()
        if entity.fighter is not None and entity.fighter.dead:
            return world_pb2.TakeGroundItemReply(reason="dead")
        instance = self.state.instance_of(entity)
        item = instance.items.get(object_id)
        ground = item.ground if item is not None else None
        if item is None or ground is None:
            return world_pb2.TakeGroundItemReply(reason="unknown_item")
        now = self.state.clock()
        entity.advance(now)
        if math.hypot(item.x - entity.x, item.y - entity.y) > PICKUP_RANGE:
            return world_pb2.TakeGroundItemReply(reason="too_far")
        if not self.state.combat.may_take(entity, ground, now):
            return world_pb2.TakeGroundItemReply(reason="not_owner")
        self.state.remove_ground_item(instance, item)
        token = next(self._tokens)
        self._taken[token] = _Taken(instance, item, now)
        self.taken += 1
        return world_pb2.TakeGroundItemReply(
            item_type=ground.item.type if ground.item is not None else ZULY_ITEM_TYPE,
            item_number=ground.item.number if ground.item is not None else 0,
            count=ground.count,
            token=token,
        )

    def put_back(self, token: int) -> world_pb2.GroundItemReply:
        """Lay a taken item down again where it was, with its owner window and expiry."""
        taken = self._taken.pop(token, None)
        if taken is None:
            return world_pb2.GroundItemReply(reason="unknown_token")
        item, ground = taken.entity, taken.entity.ground
        assert ground is not None
        placed = self.state.place_ground_item(taken.instance, item.x, item.y, ground,
                                              requested=item.object_id)
        self.state.combat.expire_at(placed, ground.expires)
        self.put_back_count += 1
        return world_pb2.GroundItemReply(object_id=placed.object_id)

    def drop(self, character_id: int, item_type: int, item_number: int,
             count: int) -> world_pb2.GroundItemReply:
        """Lay an item (or zuly, type 31) the character service removed where the character
        stands; the dropper has the owner window."""
        entity = self._character(character_id)
        content = self.state.content
        if item_type == ZULY_ITEM_TYPE:
            item = None
        else:
            item = content.item_by_client(item_type, item_number) if content else None
            if item is None:
                return world_pb2.GroundItemReply(reason="unknown_item")
        if count <= 0:
            return world_pb2.GroundItemReply(reason="bad_count")
        now = self.state.clock()
        entity.advance(now)
        rng = self.state.rng
        angle = rng.uniform(0.0, 2 * math.pi)
        x = entity.x + DROP_SCATTER * math.cos(angle)
        y = entity.y + DROP_SCATTER * math.sin(angle)
        instance = self.state.instance_of(entity)
        x, y = instance.clamp(x, y)
        ground = GroundDrop(item=item, count=count, owner_character_id=character_id,
                            owner_object_id=entity.object_id,
                            owner_until=now + OWNER_WINDOW_SECONDS,
                            expires=now + GROUND_ITEM_SECONDS)
        placed = self.state.place_ground_item(instance, x, y, ground)
        self.state.combat.expire_at(placed, ground.expires)
        self.dropped += 1
        return world_pb2.GroundItemReply(object_id=placed.object_id)

    def near_npc(self, character_id: int, npc_object_id: int) -> world_pb2.NearNpcReply:
        """How far the character is from an NPC of its instance, and what the NPC sells."""
        entity = self._character(character_id)
        npc = self.state.instance_of(entity).npcs.get(npc_object_id)
        if npc is None:
            return world_pb2.NearNpcReply(reason="unknown_npc")
        entity.advance(self.state.clock())
        content = self.state.content
        definition = content.npcs.get(npc.content_key) if content is not None else None
        return world_pb2.NearNpcReply(
            distance=math.hypot(npc.x - entity.x, npc.y - entity.y),
            shop=definition.shop or "" if definition is not None else "",
            npc=npc.content_key,
        )

    def set_equipment(self, request: world_pb2.SetEquipmentRequest) -> world_pb2.ItemActionReply:
        """New visible equipment and equipped items: derived stats follow, those around see
        the changed slot (PAKWC_EQUIP_ITEM)."""
        entity = self._character(request.character_id)
        fighter = entity.fighter
        del entity.look.equipment[:]
        entity.look.equipment.extend(list(request.equipment)[:8])
        if fighter is not None:
            bonus = Bonus()
            content = self.state.content
            for ref in request.equipped:
                if content is not None:
                    bonus = bonus + item_bonus(
                        content.item_by_client(ref.item_type, ref.item_number))
            fighter.gear = bonus
            self.state.combat.rederive(entity)
            self.state.combat.mark(entity)
        if entity.ready:
            packet = _shown(entity, request)
            self.state.send(
                [entity, *entity.seen], "action",
                world_pb2.GameActionDelivery(packet_name=packet.NAME,
                                             payload=packet.encode_payload()),
                entity.object_id,
            )
        return world_pb2.ItemActionReply()

    def use(self, request: world_pb2.UseConsumableRequest) -> world_pb2.ItemActionReply:
        """A consumable's effect and cooldown (or only whether it may be used now)."""
        entity = self._character(request.character_id)
        content = self.state.content
        item = (content.item_by_client(request.item_type, request.item_number)
                if content is not None else None)
        if item is None:
            return world_pb2.ItemActionReply(reason="unknown_item")
        reason = self.state.combat.use_consumable(entity, item, request.slot,
                                                  check_only=request.check_only)
        return world_pb2.ItemActionReply(reason=reason)

    def _lapse(self) -> None:
        """Forget the tokens nobody used in time (their items stay off the ground)."""
        now = self.state.clock()
        for token in [t for t, taken in self._taken.items()
                      if now - taken.taken_at > TOKEN_SECONDS]:
            del self._taken[token]
