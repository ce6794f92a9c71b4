"""``gateway capture`` and ``gateway replay``: captures of a running gateway, on the command line.

``gateway capture --user NAME`` / ``--connection ID`` / ``--stop`` / ``--list`` talk to the
admin HTTP port of a running gateway (``POST /admin/capture``, like ``gateway console`` reads
``/admin/connections``; ``Authorization: Bearer ADMIN_TOKEN`` when a token is set);
``gateway capture show FILE`` prints a capture file's packets decoded, as rich tables;
``gateway replay FILE --to HOST:PORT`` replays its client side (:mod:`gateway_core.replay`).
The file format is docs/capture.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from gateway_core.capture import (
    C2S,
    CaptureEvent,
    PacketRecord,
    decode_frame,
    packet_fields,
    read_capture,
)

__all__ = ["configure_capture", "configure_replay", "run_capture", "run_replay"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def _default_url(settings: Any) -> str:
    host = str(getattr(settings, "ADMIN_HOST", None) or "127.0.0.1")
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{int(settings.PACKET_METRICS_PORT) or 9102}"


def configure_capture(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``gateway capture``."""
    parser.add_argument("action", nargs="*", metavar="show FILE",
                        help="'show FILE': print the packets of a capture file")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--user", metavar="NAME",
                      help="capture every connection of this user (open now and to come)")
    what.add_argument("--connection", metavar="ID", type=int,
                      help="capture this connection (an id of /admin/connections)")
    what.add_argument("--id", metavar="N", type=int, help="with --stop: the capture to stop")
    parser.add_argument("--stop", action="store_true",
                        help="stop the captures of --user, --connection or --id (else all)")
    parser.add_argument("--list", action="store_true", help="list the running captures")
    parser.add_argument("--file", metavar="PATH",
                        help="file to write, on the gateway's host (default: a new file in "
                             "CAPTURE_DIR)")
    parser.add_argument("--url", help="base URL of the gateway's admin port (default: "
                                      "http://ADMIN_HOST:PACKET_METRICS_PORT)")
    parser.add_argument("--token", help="admin token (default: ADMIN_TOKEN)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--limit", type=int, default=0,
                        help="show: at most this many packets (0 = all)")


def configure_replay(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``gateway replay``."""
    parser.add_argument("file", metavar="FILE", help="a capture file")
    parser.add_argument("--to", required=True, metavar="HOST:PORT",
                        help="the gateway to replay against")
    parser.add_argument("--password", help="fill the masked password fields with this "
                                           "password (captures never hold one)")
    parser.add_argument("--cipher", choices=("plain", "rosecrypt"),
                        help="the target gateway's cipher (default: the capture's)")
    parser.add_argument("--timeout", type=float, default=5.0,
                        help="seconds to wait for the server's packets at each step")
    parser.add_argument("--ignore-type", action="append", default=[], metavar="PACKET",
                        help="do not compare packets of this type (repeatable)")
    parser.add_argument("--ignore-field", action="append", default=[], metavar="PACKET.FIELD",
                        help="do not compare this field (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def _post(url: str, query: Mapping[str, object], token: str | None,
          timeout: float = 5.0) -> dict[str, Any]:
    args = urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
    request = urllib.request.Request(f"{url.rstrip('/')}/admin/capture?{args}", data=b"",
                                     method="POST")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace").strip()
        raise RuntimeError(f"{url}: HTTP {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RuntimeError(f"cannot reach the gateway's admin port at {url}: {reason}") from None


def run_capture(args: argparse.Namespace, settings: Any, out: TextIO | None = None) -> int:
    """``gateway capture``; returns the exit code."""
    out = out if out is not None else sys.stdout
    if args.action:
        if args.action[0] != "show" or len(args.action) != 2:
            print("gateway capture: the only action is 'show FILE'", file=sys.stderr)
            return EXIT_USAGE
        return show(args.action[1], out=out, as_json=args.json, limit=args.limit)
    url = args.url or _default_url(settings)
    token = args.token or getattr(settings, "ADMIN_TOKEN", None)
    if args.list:
        query: dict[str, object] = {"list": 1}
    elif args.stop:
        query = {"stop": 1, "user": args.user, "connection": args.connection, "id": args.id}
    elif args.user is not None or args.connection is not None:
        query = {"user": args.user, "connection": args.connection, "file": args.file}
    else:
        print("gateway capture: give --user NAME or --connection ID (or --stop, --list, "
              "show FILE)", file=sys.stderr)
        return EXIT_USAGE
    try:
        answer = _post(url, query, token)
    except RuntimeError as exc:
        print(f"gateway capture: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    if args.json:
        print(json.dumps(answer), file=out)
        return EXIT_OK
    if "started" in answer:
        c = answer["started"]
        who = f"user {c['user']}" if c.get("user") else f"connection {c['connection']}"
        print(f"capture {c['id']} of {who} started: {c['file']}", file=out)
        print(f"stop it with: gateway capture --stop --id {c['id']}", file=out)
    elif "stopped" in answer:
        if not answer["stopped"]:
            print("no capture matched", file=out)
        for c in answer["stopped"]:
            print(f"capture {c['id']} stopped: {c['packets']} packets in {c['file']}", file=out)
    else:
        captures = answer.get("captures", [])
        if not captures:
            print("no capture running", file=out)
        for c in captures:
            who = f"user {c['user']}" if c.get("user") else f"connection {c['connection']}"
            print(f"capture {c['id']} of {who}: {c['packets']} packets in {c['file']}",
                  file=out)
    return EXIT_OK


def _fields_text(fields: Mapping[str, object]) -> str:
    parts = []
    for key, value in fields.items():
        text = json.dumps(value, separators=(",", ":"), default=str)
        if len(text) > 80:
            text = text[:77] + "..."
        parts.append(f"{key}={text}")
    return "\n".join(parts)


def show(path: str, *, out: TextIO | None = None, as_json: bool = False, limit: int = 0,
         width: int | None = None) -> int:
    """Print the capture at ``path``: one table per connection, one row per packet (time,
    direction, type, size, decoded fields). Returns the exit code."""
    out = out if out is not None else sys.stdout
    try:
        header, records = read_capture(path)
    except (OSError, ValueError) as exc:
        print(f"gateway capture: {path}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    profile = str(header.get("profile", "2026"))
    first = next((r.time for r in records if isinstance(r, PacketRecord)), 0.0)
    shown = [r for r in records if isinstance(r, PacketRecord)]
    if limit > 0:
        shown = shown[:limit]
    rows: list[dict[str, object]] = []
    for record in shown:
        try:
            packet = decode_frame(record.frame, record.direction, profile)
            fields: dict[str, object] = packet_fields(packet)
        except Exception as exc:
            fields = {"undecodable": str(exc)}
        rows.append({"t": round(record.time - first, 6), "conn": record.connection,
                     "dir": record.direction, "type": record.type_value, "name": record.name,
                     "size": len(record.frame), "fields": fields})
    if as_json:
        print(json.dumps({"header": header, "packets": rows}, default=str), file=out)
        return EXIT_OK
    # A terminal's own width; 160 columns into a file or pipe.
    console = Console(file=out, width=width or (None if out.isatty() else 160), highlight=False,
                      soft_wrap=False)
    who = f"user {header['user']}" if header.get("user") else \
        f"connection {header.get('connection')}"
    console.print(f"capture of {who} on gateway {header.get('gateway')} "
                  f"(profile {profile}, cipher {header.get('cipher')}, "
                  f"reason: {header.get('reason')}): {len(shown)} packets", markup=False)
    for item in records:
        if isinstance(item, CaptureEvent) and item.event == "error":
            console.print(Text(f"connection {item.connection}: {item.fields.get('kind')}: "
                               f"{item.fields.get('detail')}", style="red"))
    for conn in dict.fromkeys(row["conn"] for row in rows):
        table = Table(title=f"connection {conn}", show_lines=False, expand=False)
        table.add_column("t+s", justify="right")
        table.add_column("dir")
        table.add_column("type")
        table.add_column("bytes", justify="right")
        table.add_column("fields", overflow="fold")
        for row in rows:
            if row["conn"] != conn:
                continue
            arrow = "C->S" if row["dir"] == C2S else "S->C"
            decoded = row["fields"]
            assert isinstance(decoded, dict)
            table.add_row(f"{row['t']:.3f}", arrow, f"{row['name']} 0x{row['type']:04X}",
                          str(row["size"]), Text(_fields_text(decoded)))
        console.print(table)
    return EXIT_OK


def run_replay(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """``gateway replay``; returns 0 when the replies equal the recorded ones."""
    import anyio

    from gateway_core.replay import replay, to_text

    out = out if out is not None else sys.stdout
    host, sep, port = str(args.to).rpartition(":")
    if not sep or not port.isdigit():
        print(f"gateway replay: --to {args.to!r}: expected HOST:PORT", file=sys.stderr)
        return EXIT_USAGE
    host = host.strip("[]") or "127.0.0.1"
    try:
        result = anyio.run(lambda: replay(
            args.file, host, int(port), password=args.password, cipher=args.cipher,
            timeout=args.timeout, ignore_types=args.ignore_type,
            ignore_fields=args.ignore_field))
    except (OSError, ValueError) as exc:
        print(f"gateway replay: {args.file}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(result.to_json(), default=str), file=out)
    else:
        print(to_text(result), file=out)
    return EXIT_OK if result.ok else EXIT_FAILURE
