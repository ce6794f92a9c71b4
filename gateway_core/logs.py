"""Process logging set-up: logfmt lines on stderr at LOG_LEVEL.

Each record is one ``key=value`` line (``ts``, ``level``, ``logger``, ``msg``, then any
``extra=`` fields and the exception), easy for people to read and for log shippers to parse.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Final, TextIO

__all__ = ["LogfmtFormatter", "configure_logging"]

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
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                parts.append(f"{key}={_quote(value)}")
        if record.exc_info:
            parts.append(f"exc={_quote(self.formatException(record.exc_info))}")
        return " ".join(parts)


def configure_logging(level: str = "info", stream: TextIO | None = None) -> None:
    """Send all logging to ``stream`` (stderr) in logfmt at ``level`` (debug ... critical).

    Replaces handlers installed by an earlier call, so it can be called again after the
    settings are known.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_gateway_handler", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(LogfmtFormatter())
    handler._gateway_handler = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # grpc's own logger is chatty at info level about channel internals.
    logging.getLogger("grpc").setLevel(max(root.level, logging.WARNING))
