"""Process logging set-up: logfmt or JSON lines on stderr at LOG_LEVEL.

With ``LOG_FORMAT=text`` (the default) each record is one ``key=value`` line (``ts``,
``level``, ``logger``, ``msg``, then any ``extra=`` fields and the exception), easy for people
to read and for log shippers to parse; with ``LOG_FORMAT=json`` it is one JSON object with
the same keys. Records logged while a packet handler runs carry the structured fields of its
connection (``connection``, ``session``, ``user``, ``character``), read from the context the
router sets for backend calls; the packet trace (logger ``gateway.trace``, debug level) adds
``packet``, ``direction``, ``size`` and the decoded ``fields``, credentials masked.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import TYPE_CHECKING, Final, TextIO

if TYPE_CHECKING:
    from gateway_core.session import Session

__all__ = [
    "LOG_FORMATS",
    "JsonFormatter",
    "LogfmtFormatter",
    "configure_logging",
    "session_fields",
]

#: The values of LOG_FORMAT.
LOG_FORMATS: Final = ("text", "json")

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRS: Final = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "taskName",
}


def _quote(value: object) -> str:
    text = str(value)
    if text and not any(ch in text for ch in ' "=\n\t\\'):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def session_fields(session: Session) -> dict[str, object]:
    """The structured log fields of a connection: connection, session, user, character."""
    from gateway_core.records import SELECTED_CHARACTER

    fields: dict[str, object] = {"connection": session.connection_id}
    if session.session_id is not None:
        fields["session"] = session.session_id
    user = session.username if session.username is not None else session.user_id
    if user is not None:
        fields["user"] = user
    character = session.records.get(SELECTED_CHARACTER)
    if character is not None:
        fields["character"] = character.name
    return fields


def _context_fields(record: logging.LogRecord) -> dict[str, object]:
    """The record's ``extra=`` fields, with the connection of the packet being handled (when
    one is) filled in under the fields the record does not set itself."""
    fields = {key: value for key, value in record.__dict__.items()
              if key not in _STANDARD_ATTRS and not key.startswith("_")}
    if "connection" not in fields:
        from gateway_core.backend_clients import grpc_call_context

        source = grpc_call_context.get()
        connection_id = getattr(source, "connection_id", None)
        if connection_id is not None and hasattr(source, "records"):
            fields = {**session_fields(source), **fields}  # type: ignore[arg-type]
    return fields


class LogfmtFormatter(logging.Formatter):
    """Formats a record as ``ts=... level=... logger=... msg=... key=value...``."""

    def format(self, record: logging.LogRecord) -> str:
        created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        parts = [
            f"ts={created}.{int(record.msecs):03d}Z",
            f"level={record.levelname.lower()}",
            f"logger={_quote(record.name)}",
            f"msg={_quote(record.getMessage())}",
        ]
        for key, value in _context_fields(record).items():
            if key != "fields":  # the trace's decoded fields are in its message already
                parts.append(f"{key}={_quote(value)}")
        if record.exc_info:
            parts.append(f"exc={_quote(self.formatException(record.exc_info))}")
        return " ".join(parts)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: ``ts``, ``level``, ``logger``, ``msg``, the
    structured fields, ``exc``."""

    def format(self, record: logging.LogRecord) -> str:
        created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        obj: dict[str, object] = {
            "ts": f"{created}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in _context_fields(record).items():
            obj.setdefault(key, value)
        if record.exc_info:
            obj["exc"] = self.formatException(record.exc_info)
        return json.dumps(obj, default=str, separators=(",", ":"))


def configure_logging(level: str = "info", stream: TextIO | None = None,
                      fmt: str = "text") -> None:
    """Send all logging to ``stream`` (stderr) at ``level`` (debug ... critical), as logfmt
    (``fmt="text"``) or JSON lines (``fmt="json"``).

    Replaces handlers installed by an earlier call, so it can be called again after the
    settings are known.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_gateway_handler", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else LogfmtFormatter())
    handler._gateway_handler = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # grpc's own logger is chatty at info level about channel internals.
    logging.getLogger("grpc").setLevel(max(root.level, logging.WARNING))
