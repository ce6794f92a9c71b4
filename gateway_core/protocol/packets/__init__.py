"""Every packet type of the ROSE protocol that has a payload definition (204 of them).

One frozen, slotted dataclass per packet, grouped by category (``auth``, ``character``,
``chat``, ``movement``, ``combat``, ``items``, ``party``, ``trade``, ``shop``, ``other``;
shared types in ``common``). Class names follow the protocol name: ``PAKCS_*`` -> ``Cli*``,
``ISC_*`` -> ``Isc*``, every other prefix -> ``Srv*`` (``PAKLC_LOGIN_REPLY`` ->
:class:`SrvLoginReply`); field names are the XML names in snake_case.

Usage::

    pkt = CliMouseCmd(target_id=7, x=5200.0, y=5300.0, z=0)
    payload = pkt.encode_payload()                 # bytes, without the 6-byte header
    decoded = CliMouseCmd.decode_payload(payload)  # Decoded(packet, missing, extra)
    chat = SrvNormalChat.from_text(char_id=7, message="hi")   # str -> bytes (latin-1)
    chat.text("message")                                     # bytes -> str
    item = Item.stack(type=10, id=5, count=20)               # or Item.equipment(...)

Strings are ``bytes``; enums are ``IntEnum`` (unknown values decode as ``int``); unions and
bit-fields (items, equipment, hotbar) are :class:`UnionValue` subclasses built with
``.of(**parts)``. See :mod:`gateway_core.protocol.codecs` for the wire rules.

Where numbering profile 2021 lays a type out differently (docs/protocol.md §9.1), its layout is
in :mod:`~gateway_core.protocol.packets.profile_2021`; connections of that profile use it, and
:func:`~gateway_core.protocol.declarations.encode_payload_in` /
:func:`~gateway_core.protocol.declarations.decode_payload_in` do the same for a bare payload.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Final

from gateway_core.protocol.declarations import TEXT_ENCODING, Decoded, Packet, Record, UnionValue
from gateway_core.protocol.numbering import DEFAULT_PROFILE, get_profile
from gateway_core.protocol.packets import (
    auth,
    character,
    chat,
    combat,
    common,
    items,
    movement,
    other,
    party,
    profile_2021,
    shop,
    trade,
)

# Each category module lists its names in ``__all__``; the star imports re-export exactly those
# (and let type checkers see them), the lists below are derived from the same ``__all__``.
from gateway_core.protocol.packets.auth import *  # noqa: F403
from gateway_core.protocol.packets.character import *  # noqa: F403
from gateway_core.protocol.packets.chat import *  # noqa: F403
from gateway_core.protocol.packets.combat import *  # noqa: F403
from gateway_core.protocol.packets.common import *  # noqa: F403
from gateway_core.protocol.packets.items import *  # noqa: F403
from gateway_core.protocol.packets.movement import *  # noqa: F403
from gateway_core.protocol.packets.other import *  # noqa: F403
from gateway_core.protocol.packets.party import *  # noqa: F403
from gateway_core.protocol.packets.profile_2021 import *  # noqa: F403
from gateway_core.protocol.packets.shop import *  # noqa: F403
from gateway_core.protocol.packets.trade import *  # noqa: F403

#: The profile-specific layouts (not packet types of their own, so not in the lists below).
PROFILE_LAYOUT_MODULES: Final = (profile_2021,)

#: The category modules, shared types first.
_CATEGORIES: Final = (
    common,
    auth,
    character,
    chat,
    movement,
    combat,
    items,
    party,
    trade,
    shop,
    other,
)


def _declared_packets() -> Iterator[type[Packet]]:
    """The packet classes the category modules export (records, unions and enums left out)."""
    for module in _CATEGORIES:
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, type) and issubclass(value, Packet):
                yield value


_TYPE_ORDER: Final = {name: k for k, name in enumerate(get_profile(DEFAULT_PROFILE).names)}

#: Every packet class, in packet-type order.
ALL_PACKETS: Final[tuple[type[Packet], ...]] = tuple(
    sorted(_declared_packets(), key=lambda cls: _TYPE_ORDER[cls.NAME])
)

#: Packet class by protocol name, e.g. ``PACKETS_BY_NAME["PAKCS_LOGIN_REQ"]``.
PACKETS_BY_NAME: Final[Mapping[str, type[Packet]]] = MappingProxyType(
    {cls.NAME: cls for cls in ALL_PACKETS}
)

__all__ = [
    "ALL_PACKETS",
    "PACKETS_BY_NAME",
    "PROFILE_LAYOUT_MODULES",
    "TEXT_ENCODING",
    "Decoded",
    "Packet",
    "Record",
    "UnionValue",
]
__all__ += common.__all__
__all__ += auth.__all__
__all__ += character.__all__
__all__ += chat.__all__
__all__ += movement.__all__
__all__ += combat.__all__
__all__ += items.__all__
__all__ += party.__all__
__all__ += trade.__all__
__all__ += shop.__all__
__all__ += other.__all__
__all__ += profile_2021.__all__
