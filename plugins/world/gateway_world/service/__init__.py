"""The reference world service (live presence in memory)."""

from __future__ import annotations

from gateway_world.service.servicer import (
    DEFAULT_FLUSH_INTERVAL,
    DEFAULT_POSITION_TOLERANCE,
    DEFAULT_QUEUE_LIMIT,
    DEFAULT_TICK_INTERVAL,
    DEFAULT_VIEW_RADIUS,
    WorldReferenceService,
    WorldServicer,
)
from gateway_world.service.state import DEFAULT_WANDER_INTERVAL, WorldState

__all__ = [
    "DEFAULT_FLUSH_INTERVAL",
    "DEFAULT_POSITION_TOLERANCE",
    "DEFAULT_QUEUE_LIMIT",
    "DEFAULT_TICK_INTERVAL",
    "DEFAULT_VIEW_RADIUS",
    "DEFAULT_WANDER_INTERVAL",
    "WorldReferenceService",
    "WorldServicer",
    "WorldState",
]
