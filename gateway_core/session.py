"""Per-connection session state and the connection service."""

from __future__ import annotations

import enum


class SessionState(enum.Enum):
    """Where a connection is in the client's flow (PROTOCOL.md §7).

    A client talks to one gateway three times (login, character select, world), each time on
    a new connection; the state is per connection.
    """

    CONNECTED = "connected"  # accepted, nothing authenticated yet
    LOGGED_IN = "logged_in"  # login leg: PAKCS_LOGIN_REQ succeeded
    CHARACTER_SELECT = "character_select"  # character leg: joined with a session id
    IN_WORLD = "in_world"  # world leg: joined for a selected character
    CLOSING = "closing"  # being torn down; nothing more is dispatched
