"""The address a client is told to connect to for its next leg (docs/protocol.md §10.2):
the server select reply (login leg -> character leg) and the switch server packet
(character leg -> world leg) both carry it, whichever plugin sends them.

By default the gateway hands out itself: the local address the client reached and SERVICE_PORT.
PUBLIC_HOST / PUBLIC_PORT override either (a load balancer or NAT in front of the gateway).
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Protocol

from gateway_core.session import Session

__all__ = ["AddressSettings", "public_address"]

log = logging.getLogger("gateway.addresses")


class AddressSettings(Protocol):
    # Upper-case like every setting name.
    """The settings :func:`public_address` reads (a :class:`gateway_core.config.Settings`)."""

    @property
    def PUBLIC_HOST(self) -> str | None: ...
    @property
    def PUBLIC_PORT(self) -> int | None: ...
    @property
    def SERVICE_PORT(self) -> int: ...


def public_address(session: Session, settings: AddressSettings) -> tuple[bytes, int]:
    """Where the client of ``session`` should connect for its next leg: PUBLIC_HOST/PUBLIC_PORT,
    by default the local address of the client's own connection and SERVICE_PORT (or, when the
    gateway listens on an ephemeral port, the port the client reached).

    The client takes a dotted IPv4 string: an IPv4-mapped IPv6 address is unwrapped, the IPv6
    loopback and 0.0.0.0 become 127.0.0.1 (a dual-stack listener accepts both); any other IPv6
    address is handed out as is, with a warning to set PUBLIC_HOST. Returns the host as ASCII
    bytes (the packets' string fields) and the port.
    """
    host = settings.PUBLIC_HOST
    if not host:
        host = session.local_address[0] or "127.0.0.1"
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            address = None
        if isinstance(address, ipaddress.IPv6Address):
            if address.ipv4_mapped is not None:
                host = str(address.ipv4_mapped)
            elif address.is_loopback:
                host = "127.0.0.1"
            else:
                log.warning("handing out IPv6 address %s; set PUBLIC_HOST if the client cannot "
                            "use it", host)
        elif address is not None and address.is_unspecified:
            host = "127.0.0.1"
    port = settings.PUBLIC_PORT or int(settings.SERVICE_PORT) or session.local_address[1]
    return str(host).encode("ascii", "replace"), int(port)
