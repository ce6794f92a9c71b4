"""Sans-IO ROSE Online protocol layer: framing, cipher, packet types and codecs.

Nothing in this package may import anyio, grpc, prometheus_client or rich.

The usual entry points are re-exported here; packet classes live in
:mod:`gateway_core.protocol.packets` (imported on first use by the connection).
"""

from __future__ import annotations

from gateway_core.protocol.connection import (
    NEED_DATA,
    NeedData,
    ProtocolConnection,
    RawFrame,
    Role,
    encode_packet,
)
from gateway_core.protocol.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from gateway_core.protocol.framing import HEADER_SIZE, MAX_PACKET_SIZE
from gateway_core.protocol.numbering import (
    DEFAULT_PROFILE,
    NumberingProfile,
    PacketTypeInfo,
    get_profile,
)

__all__ = [
    "DEFAULT_PROFILE",
    "HEADER_SIZE",
    "MAX_PACKET_SIZE",
    "NEED_DATA",
    "LocalProtocolError",
    "NeedData",
    "NumberingProfile",
    "PacketTypeInfo",
    "ProtocolConnection",
    "ProtocolError",
    "RawFrame",
    "RemoteProtocolError",
    "Role",
    "encode_packet",
    "get_profile",
]
