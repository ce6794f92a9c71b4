"""Run scripted game clients against a gateway: login, character, world, chat, move, warp,
logout.

Exit status 0 when every client completed its flow, 1 otherwise, 2 for a gate the content pack
does not have. Defaults for the port,
cipher and packet profile come from the gateway settings (SERVICE_PORT, CIPHER,
PACKET_PROFILE), so the same settings file smoke-tests the deployment it configures.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

import anyio
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gateway_core.bot.client import DEFAULT_TIMEOUT
from gateway_core.bot.journey import INDEX_PLACEHOLDER, FlowOptions, WarpGate, run_clients
from gateway_core.bot.results import FlowResult, RunSummary, failure_reason

if TYPE_CHECKING:
    from gateway_core.registry import CommandContext

__all__ = ["configure", "main", "options_from_args", "run"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
#: Rows of the per-client table before it is cut (failures are listed first).
MAX_ROWS = 25


def _point(value: str) -> tuple[float, float]:
    try:
        x_text, y_text = value.split(",")
        return float(x_text), float(y_text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X,Y (two numbers), got {value!r}") from None


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}")
    return number


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value!r}")
    return number


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``gateway bot`` arguments to ``parser``."""
    target = parser.add_argument_group("target")
    target.add_argument("--host", default="127.0.0.1", help="gateway host (default %(default)s)")
    target.add_argument("--port", type=int, default=None,
                        help="gateway port (default: the SERVICE_PORT setting)")
    target.add_argument("--cipher", choices=("plain", "rosecrypt"), default=None,
                        help="wire cipher (default: the CIPHER setting)")
    target.add_argument("--profile", choices=("2026", "2021"), default=None,
                        help="packet numbering (default: the PACKET_PROFILE setting)")
    target.add_argument("--no-follow", dest="follow", action="store_false",
                        help="ignore the addresses handed out for the next legs and reconnect "
                             "to --host/--port (a gateway behind NAT)")
    account = parser.add_argument_group("account")
    account.add_argument("--user", default=f"bot{INDEX_PLACEHOLDER}",
                         help="username; '{i}' is replaced by the client index "
                              "(default %(default)s)")
    account.add_argument("--password", default="bot", help="plain password (sent as SHA-256)")
    account.add_argument("--character", default=None,
                         help="character to play ('{i}' allowed; default: the first listed)")
    account.add_argument("--create", action="store_true",
                         help="create the character if it is missing")
    account.add_argument("--server-id", type=int, default=None,
                         help="server to select (default: the first listed)")
    account.add_argument("--channel-id", type=int, default=None,
                         help="channel to select (default: the first listed)")
    play = parser.add_argument_group("play")
    play.add_argument("--chat", metavar="TEXT", default=None,
                      help="say TEXT in normal chat and whisper it to oneself (both awaited)")
    play.add_argument("--move", metavar="X,Y", type=_point, default=None,
                      help="click-to-move to X,Y (awaited)")
    play.add_argument("--warp", metavar="GATE", type=_positive_int, default=None,
                      help="walk to warp gate GATE of the content pack (WORLD_CONTENT, else the "
                           "default pack), take it, and report the NPCs and monsters seen")
    play.add_argument("--no-enter-map", dest="enter_map", action="store_false",
                      help="stop after the world join's initial data and log out (no "
                           "PAKCS_CHANGE_MAP_REQ, chat or move)")
    run_group = parser.add_argument_group("run")
    run_group.add_argument("--count", type=_positive_int, default=1,
                           help="number of concurrent clients (default %(default)s)")
    run_group.add_argument("--first-index", type=int, default=0,
                           help="index of the first client for '{i}' (default %(default)s)")
    run_group.add_argument("--timeout", type=_positive_float, default=DEFAULT_TIMEOUT,
                           help="seconds for each single wait (default %(default)s)")
    run_group.add_argument("--total-timeout", type=_positive_float, default=120.0,
                           help="seconds for the whole run (default %(default)s)")
    run_group.add_argument("--json", action="store_true",
                           help="print the results as JSON instead of tables")


class UnknownGate(Exception):
    """``--warp`` names a gate the content pack does not have."""


def warp_gate(gate_id: int, settings: Any | None) -> WarpGate:
    """Gate ``gate_id`` of the content pack the server runs (WORLD_CONTENT, else the default
    pack); :class:`UnknownGate` when it has none."""
    from gateway_core.content import load_content

    pack = load_content(getattr(settings, "WORLD_CONTENT", None) if settings is not None else None)
    gate = pack.gates.get(gate_id)
    if gate is None:
        have = ", ".join(str(g) for g in sorted(pack.gates)) or "none"
        raise UnknownGate(f"the content pack has no gate {gate_id} (gates: {have})")
    return WarpGate(gate.id, gate.map, gate.position.x, gate.position.y)


def options_from_args(args: argparse.Namespace, settings: Any | None = None) -> FlowOptions:
    """The flow options given by parsed ``args``; ``settings`` supplies unset defaults."""
    port = args.port if args.port is not None else int(getattr(settings, "SERVICE_PORT", 29000))
    cipher = args.cipher or str(getattr(settings, "CIPHER", "plain"))
    profile = args.profile or str(getattr(settings, "PACKET_PROFILE", "2026"))
    return FlowOptions(
        host=args.host,
        port=port,
        username=args.user,
        password=args.password,
        character=args.character,
        create=args.create,
        cipher=cipher,
        profile=profile,
        timeout=args.timeout,
        chat=args.chat,
        move=args.move,
        server_id=args.server_id,
        channel_id=args.channel_id,
        follow_addresses=args.follow,
        enter_map=getattr(args, "enter_map", True),
        warp=warp_gate(args.warp, settings) if getattr(args, "warp", None) else None,
    )


async def _run_all(
    options: FlowOptions, args: argparse.Namespace
) -> tuple[list[FlowResult], float]:
    started = time.perf_counter()
    results = await run_clients(
        options, args.count, total_timeout=args.total_timeout, first_index=args.first_index
    )
    return results, time.perf_counter() - started


def run(args: argparse.Namespace, ctx: CommandContext | None = None) -> int:
    """Run ``gateway bot`` with parsed ``args``; returns the exit status.

    ``ctx`` (the ``gateway`` command context) supplies the settings for unset defaults and
    the output stream; without it the built-in defaults and stdout are used.
    """
    settings = ctx.settings if ctx is not None else None
    out: TextIO = ctx.out if ctx is not None else sys.stdout
    try:
        options = options_from_args(args, settings)
    except UnknownGate as exc:
        print(f"gateway bot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    backend_options = {"use_uvloop": True} if importlib.util.find_spec("uvloop") else {}
    results, elapsed = anyio.run(
        _run_all, options, args, backend="asyncio", backend_options=backend_options
    )
    summary = RunSummary.from_results(results, elapsed)
    if args.json:
        document = {
            "options": _options_dict(options, args),
            "summary": summary.to_dict(),
            "clients": [result.to_dict() for result in results],
        }
        out.write(json.dumps(document, indent=2) + "\n")
    else:
        print_report(results, summary, options, Console(file=out, highlight=False))
    return EXIT_OK if summary.ok else EXIT_FAILED


def _options_dict(options: FlowOptions, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "host": options.host,
        "port": options.port,
        "cipher": options.cipher,
        "profile": options.profile,
        "user": options.username,
        "character": options.character,
        "create": options.create,
        "count": args.count,
        "chat": options.chat,
        "move": list(options.move) if options.move is not None else None,
        "warp": options.warp.id if options.warp is not None else None,
        "timeout": options.timeout,
        "total_timeout": args.total_timeout,
    }


def print_report(
    results: Sequence[FlowResult], summary: RunSummary, options: FlowOptions, console: Console
) -> None:
    """Print the per-client table, the step timings and a one-line verdict."""
    title = (f"gateway bot: {summary.total} client(s) -> {options.host}:{options.port} "
             f"({options.cipher}, profile {options.profile})")
    clients = Table(title=title, title_justify="left")
    for column in ("client", "result", "character", "object", "map", "seen", "steps",
                   "unexpected", "ms"):
        clients.add_column(column, justify="right" if column in ("object", "map", "steps", "ms",
                                                                 "unexpected") else "left")
    ordered = sorted(results, key=lambda result: result.ok)  # failures first
    for result in ordered[:MAX_ROWS]:
        verdict = "[green]ok[/]" if result.ok else f"[red]{_escape(failure_reason(result))}[/]"
        clients.add_row(
            _escape(result.client),
            verdict,
            _escape(result.character or "-"),
            str(result.object_id) if result.object_id is not None else "-",
            str(result.map_id) if result.map_id is not None else "-",
            _seen(result),
            str(len(result.steps)),
            str(sum(result.unexpected.values())),
            f"{result.elapsed * 1000:.1f}",
        )
    console.print(clients)
    if len(ordered) > MAX_ROWS:
        console.print(f"... {len(ordered) - MAX_ROWS} more client(s) not shown (use --json)")
    for result in ordered:
        if not result.ok and result.error:
            console.print(f"[red]{_escape(result.client)}[/]: {_escape(result.error)}")
            break  # the first full error message; the table has the rest in short
    if summary.steps:
        steps = Table(title="step timings (ms, completed steps)", title_justify="left")
        for column in ("step", "count", "mean", "p50", "p95", "max"):
            steps.add_column(column, justify="left" if column == "step" else "right")
        for timing in summary.steps:
            steps.add_row(timing.name, str(timing.count), f"{timing.mean * 1000:.2f}",
                          f"{timing.p50 * 1000:.2f}", f"{timing.p95 * 1000:.2f}",
                          f"{timing.max * 1000:.2f}")
        console.print(steps)
    verdict = "[green]all completed[/]" if summary.ok else "[red]FAILED[/]"
    failures = ", ".join(f"{reason} x{count}" for reason, count in summary.failures.items())
    console.print(f"{verdict}: {summary.succeeded}/{summary.total} ok in "
                  f"{summary.elapsed:.2f}s" + (f" ({_escape(failures)})" if failures else ""))


def _seen(result: FlowResult) -> str:
    seen = result.sightings
    return f"{seen['npcs']} npc, {seen['monsters']} mob, {seen['players']} pc"


def _escape(value: str) -> str:
    # Names and messages come from the server: never let them be read as rich markup.
    return escape(value)


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point (``python -m gateway_core.bot.cli``), without settings."""
    parser = argparse.ArgumentParser(prog="gateway bot", description=__doc__)
    configure(parser)
    return run(parser.parse_args(argv), None)


if __name__ == "__main__":
    raise SystemExit(main())
