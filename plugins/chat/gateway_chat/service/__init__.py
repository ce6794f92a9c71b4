"""The reference chat service (in-memory; deliveries are live)."""

from __future__ import annotations

from gateway_chat.service.registry import ChatRegistry
from gateway_chat.service.servicer import DEFAULT_QUEUE_LIMIT, ChatReferenceService, ChatServicer

__all__ = ["DEFAULT_QUEUE_LIMIT", "ChatReferenceService", "ChatRegistry", "ChatServicer"]
