"""The items plugin: packet handlers for items (drop, pick up, equip, use, NPC store, storage,
hotbar, weight), written against the public plugin API only.

It has no service of its own: the inventory, zuly and storage are the character service's
(``ChangeItems``, ``GetStorage``), the ground, NPCs and consumable effects the world service's.
It declares clients of both by service name; the core shares one channel per service with the
plugins that declare the same service. Each gateway keeps an
:class:`~gateway_items.runtime.ItemsRuntime` (the content pack and the refusal counter).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway_protos.v1 import character_pb2_grpc, world_pb2_grpc

from gateway_core.api import hookimpl
from gateway_items import shops, trade
from gateway_items.handlers import register_packets
from gateway_items.runtime import CHARACTER, WORLD, ItemsRuntime

if TYPE_CHECKING:
    from gateway_core.api import GrpcClientRegistrar, PacketRegistrar, RuntimeRegistrar


@hookimpl
def gateway_register_grpc_clients(register: GrpcClientRegistrar) -> None:
    """The character client (``ctx.clients["character"]``) and the world client
    (``ctx.clients["world"]``)."""
    register(CHARACTER, character_pb2_grpc.CharacterStub)
    register(WORLD, world_pb2_grpc.WorldStub)


@hookimpl
def gateway_register_runtime(register: RuntimeRegistrar) -> None:
    """One :class:`ItemsRuntime` per gateway."""
    register(ItemsRuntime)


@hookimpl
def gateway_register_packets(register: PacketRegistrar) -> None:
    """The item packets (:mod:`.handlers`), the trade packets (:mod:`.trade`) and the
    personal shop packets (:mod:`.shops`), in the world only."""
    register_packets(register)
    trade.register_packets(register)
    shops.register_packets(register)
