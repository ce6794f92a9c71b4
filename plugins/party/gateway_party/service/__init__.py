"""The reference party service (in memory: parties outlive gateway restarts, not its own)."""

from __future__ import annotations

from gateway_party.service.registry import (
    DEFAULT_MAX_MEMBERS,
    DEFAULT_OFFLINE_GRACE,
    DEFAULT_QUEUE_LIMIT,
    PartyRegistry,
)
from gateway_party.service.servicer import PartyReferenceService, PartyServicer

__all__ = [
    "DEFAULT_MAX_MEMBERS",
    "DEFAULT_OFFLINE_GRACE",
    "DEFAULT_QUEUE_LIMIT",
    "PartyReferenceService",
    "PartyRegistry",
    "PartyServicer",
]
