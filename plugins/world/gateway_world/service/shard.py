"""A world service that owns some maps only (WORLD_SERVICE_MAPS): one shard of a world
sharded by map.

Every shard loads the same content pack, so the shard a character warps from knows the gate's
destination and checks the gate itself (on its map, in range); what it does not do is put the
character on a map it does not own. It answers the warp with the destination instead
(:class:`Elsewhere`: an ``Ack`` with ``elsewhere`` set, nothing changed here) and the gateway
enters the character on the shard that owns that map. Entering a map the service does not own
is refused (``map_elsewhere``): a gateway whose WORLD_SHARDS disagrees must not create maps
twice.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from gateway_protos.v1 import world_pb2

from gateway_core.api import ContentPack
from gateway_world.service.entities import Refused

#: Reason of the refusals and answers about a map another world service owns.
MAP_ELSEWHERE = "map_elsewhere"


class Elsewhere(Refused):
    """A warp to ``map_id`` at ``position``, a map of another world service."""

    def __init__(self, map_id: int, position: world_pb2.Position) -> None:
        super().__init__(grpc.StatusCode.FAILED_PRECONDITION, MAP_ELSEWHERE,
                         f"map {map_id} is on another world service")
        self.map_id = map_id
        self.position = world_pb2.Position()
        self.position.CopyFrom(position)


def owned_maps(maps: Iterable[int] | None) -> frozenset[int] | None:
    """The maps a service owns (None: every map)."""
    return None if maps is None else frozenset(maps)


def check_enter(owned: frozenset[int] | None, map_id: int) -> None:
    """Refuse (``map_elsewhere``) to put a character on a map this service does not own."""
    if owned is not None and map_id not in owned:
        raise Refused(grpc.StatusCode.FAILED_PRECONDITION, MAP_ELSEWHERE,
                      f"map {map_id} is not a map of this world service")


def check_destination(owned: frozenset[int] | None, content: ContentPack | None, map_id: int,
                      position: world_pb2.Position) -> None:
    """Raise :class:`Elsewhere` for a warp to a map this service does not own (after the
    bounds check the owner would make: the pack is the same); nothing for its own maps."""
    if owned is None or map_id in owned:
        return
    map_def = content.maps.get(map_id) if content is not None else None
    if map_def is not None and not map_def.bounds.contains(position.x, position.y):
        raise Refused(grpc.StatusCode.INVALID_ARGUMENT, "out_of_bounds",
                      f"position ({position.x:.0f}, {position.y:.0f}) is outside map {map_id}")
    raise Elsewhere(map_id, position)


def elsewhere_ack(request_id: int, character_id: int, exc: Elsewhere) -> world_pb2.Ack:
    """The answer to a warp to another service's map: where to enter the character."""
    ack = world_pb2.Ack(request_id=request_id, character_id=character_id, map_id=exc.map_id,
                        elsewhere=True)
    ack.position.CopyFrom(exc.position)
    return ack
