"""Run scripted game clients against a gateway: login, character, world, chat, move, warp,
logout; with --stay, a soak (clients stay in the world moving and chatting), with --ramp, a
load test that starts clients at a rate.

Exit status 0 when every client completed its flow, 1 otherwise, 2 for bad options (e.g. a gate
the content pack does not have), 130 when interrupted (Ctrl-C or SIGTERM: the clients log out
and the results so far are printed; a second Ctrl-C quits without waiting for the logouts).
A client that fails logs out too, so the next run of the same accounts is not refused
ALREADY_LOGGEDIN. Progress goes to stderr while the run lasts when stderr is a terminal (not
with --json). Defaults for the port, cipher and packet profile come from the gateway settings
(SERVICE_PORT, CIPHER, PACKET_PROFILE), so the same settings file smoke-tests the deployment it
configures.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

import anyio
import anyio.abc
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from gateway_core.bot.advice import advise
from gateway_core.bot.client import DEFAULT_TIMEOUT
from gateway_core.bot.journey import (
    DEFAULT_CHAT_RATE,
    DEFAULT_MOVE_RATE,
    INDEX_PLACEHOLDER,
    FlowOptions,
    RunControl,
    WarpGate,
    run_clients,
)
from gateway_core.bot.progress import RunProgress, render_progress
from gateway_core.bot.results import FlowResult, RunSummary, failure_reason

if TYPE_CHECKING:
    from gateway_core.registry import CommandContext

__all__ = ["configure", "main", "options_from_args", "run"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
#: Interrupted by SIGINT or SIGTERM (128 + SIGINT, as shells report a Ctrl-C).
EXIT_INTERRUPTED = 130
#: Rows of the per-client table before it is cut (failures are listed first).
MAX_ROWS = 25
#: Failure reasons explained in the failure summary before it is cut.
MAX_REASONS = 8
#: Terminal width from which the client table shows every column.
WIDE_TABLE = 100
#: Seconds between two refreshes of the progress display.
PROGRESS_PERIOD = 0.25


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


def _rate(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not number >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value!r}")
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
    play.add_argument("--stay", metavar="SECONDS", type=_rate, default=0.0,
                      help="stay in the world SECONDS before logging out, moving and chatting "
                           "(a soak); moves, chats and their replies are counted")
    play.add_argument("--move-rate", metavar="PER_SECOND", type=_rate,
                      default=DEFAULT_MOVE_RATE,
                      help="click-to-moves per client per second while staying "
                           "(default %(default)s; 0 = none)")
    play.add_argument("--chat-rate", metavar="PER_SECOND", type=_rate,
                      default=DEFAULT_CHAT_RATE,
                      help="normal chat lines per client per second while staying "
                           "(default %(default)s; 0 = none)")
    run_group = parser.add_argument_group("run")
    run_group.add_argument("--count", type=_positive_int, default=1,
                           help="number of concurrent clients (default %(default)s)")
    run_group.add_argument("--first-index", type=int, default=0,
                           help="index of the first client for '{i}' (default %(default)s)")
    run_group.add_argument("--ramp", metavar="PER_SECOND", type=_positive_float, default=None,
                           help="start the clients at this rate instead of all at once")
    run_group.add_argument("--timeout", type=_positive_float, default=DEFAULT_TIMEOUT,
                           help="seconds for each single wait (default %(default)s)")
    run_group.add_argument("--total-timeout", type=_positive_float, default=120.0,
                           help="seconds for the whole run, on top of the ramp's spread and "
                                "--stay (default %(default)s)")
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
        stay=getattr(args, "stay", 0.0),
        move_rate=getattr(args, "move_rate", DEFAULT_MOVE_RATE),
        chat_rate=getattr(args, "chat_rate", DEFAULT_CHAT_RATE),
    )


def _title(options: FlowOptions, count: int) -> str:
    return (f"gateway bot: {count} client(s) -> {options.host}:{options.port} "
            f"({options.cipher}, profile {options.profile})")


async def _stop_on_signals(
    control: RunControl, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
) -> None:
    """Ctrl-C (or SIGTERM) interrupts the run: the clients log out; a second one abandons
    the logouts."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        async for _ in signals:
            control.interrupt()


async def _show_progress(progress: RunProgress, title: str, console: Console) -> None:
    with Live(render_progress(progress, title), console=console, auto_refresh=False,
              transient=True, redirect_stdout=False, redirect_stderr=False) as live:
        while True:
            live.update(render_progress(progress, title), refresh=True)
            await anyio.sleep(PROGRESS_PERIOD)


async def _run_all(
    options: FlowOptions, args: argparse.Namespace, console: Console | None
) -> tuple[list[FlowResult], float, RunControl]:
    control = RunControl()
    control.progress.total = args.count
    started = control.progress.started_at = time.perf_counter()
    async with anyio.create_task_group() as group:
        if console is not None:
            group.start_soon(_show_progress, control.progress, _title(options, args.count),
                             console)
        if threading.current_thread() is threading.main_thread():
            await group.start(_stop_on_signals, control)
        results = await run_clients(
            options, args.count, total_timeout=args.total_timeout,
            first_index=args.first_index, ramp=getattr(args, "ramp", None), control=control,
        )
        group.cancel_scope.cancel()
    return results, time.perf_counter() - started, control


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


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
    if options.stay > 0 and not options.enter_map:
        print("gateway bot: --stay needs the map (it cannot go with --no-enter-map)",
              file=sys.stderr)
        return EXIT_USAGE
    progress = None
    if not args.json and _is_terminal(sys.stderr):
        progress = Console(file=sys.stderr, highlight=False)
    backend_options = {"use_uvloop": True} if importlib.util.find_spec("uvloop") else {}
    results, elapsed, control = anyio.run(
        _run_all, options, args, progress, backend="asyncio", backend_options=backend_options
    )
    summary = RunSummary.from_results(results, elapsed, not_started=args.count - len(results))
    if args.json:
        document = {
            "options": _options_dict(options, args),
            "summary": summary.to_dict(),
            "clients": [result.to_dict() for result in results],
        }
        out.write(json.dumps(document, indent=2) + "\n")
    else:
        print_report(results, summary, options, Console(file=out, highlight=False),
                     interrupted=control.interrupted)
    if control.interrupted:
        return EXIT_INTERRUPTED
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
        "ramp": getattr(args, "ramp", None),
        "stay": options.stay,
        "move_rate": options.move_rate,
        "chat_rate": options.chat_rate,
    }


def print_report(
    results: Sequence[FlowResult],
    summary: RunSummary,
    options: FlowOptions,
    console: Console,
    *,
    interrupted: bool = False,
) -> None:
    """Print the per-client table, the step timings, the soak, what the failures mean and
    a one-line verdict (``interrupted``: the run was stopped; the results are partial)."""
    title = _title(options, summary.total)
    clients = Table(title=title, title_justify="left")
    # On a narrow terminal the least telling columns go, so that the result stays readable.
    narrow = console.width < WIDE_TABLE
    columns = [column for column in ("client", "result", "character", "object", "map",
                                     "npc/mob/pc", "steps", "unexpected", "ms")
               if not (narrow and column in ("object", "steps", "unexpected"))]
    for column in columns:
        if column == "result":
            clients.add_column(column, min_width=18)
        else:
            clients.add_column(column, justify="left" if column in ("client", "character")
                               else "right")
    ordered = sorted(results, key=lambda result: result.ok)  # failures first
    for result in ordered[:MAX_ROWS]:
        verdict = "[green]ok[/]" if result.ok else f"[red]{_escape(failure_reason(result))}[/]"
        cells = {
            "client": _escape(result.client),
            "result": verdict,
            "character": _escape(result.character or "-"),
            "object": str(result.object_id) if result.object_id is not None else "-",
            "map": str(result.map_id) if result.map_id is not None else "-",
            "npc/mob/pc": _seen(result),
            "steps": str(len(result.steps)),
            "unexpected": str(sum(result.unexpected.values())),
            "ms": f"{result.elapsed * 1000:.1f}",
        }
        clients.add_row(*(cells[column] for column in columns))
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
    if summary.soak is not None:
        soak = summary.soak
        stayed = sum(1 for result in results if result.soak is not None)
        console.print(f"soak: {stayed} client(s) stayed up to {soak.seconds:.1f}s: "
                      f"{_escape(soak.describe())}, {soak.other_packets} other packets, "
                      f"{soak.unanswered} unanswered")
        if soak.last_server_message:
            console.print(f"  last server message: {_escape(soak.last_server_message)}")
    print_failure_summary(results, summary, console)
    if interrupted:
        verdict = "[yellow]INTERRUPTED[/] (partial results)"
    else:
        verdict = "[green]all completed[/]" if summary.ok else "[red]FAILED[/]"
    groups = _failure_groups(results)
    failures = ", ".join(f"{reason} x{count}" for reason, count, _ in groups[:3])
    if len(groups) > 3:
        failures += f", {len(groups) - 3} more"
    not_started = f", {summary.not_started} not started" if summary.not_started else ""
    console.print(f"{verdict}: {summary.succeeded}/{summary.total} ok in "
                  f"{summary.elapsed:.2f}s{not_started}"
                  + (f" ({_escape(failures)})" if failures else ""))


def _failure_groups(results: Sequence[FlowResult]) -> list[tuple[str, int, FlowResult]]:
    """The failures grouped by step, result code and kind of error (the reasons of one group
    may differ in details such as a name): (the first one's reason, count, the first one),
    the largest group first."""
    groups: dict[tuple[str | None, str | None, str | None], list[FlowResult]] = {}
    for result in results:
        if not result.ok:
            groups.setdefault((result.failed_step, result.code, result.error_kind),
                              []).append(result)
    ordered = sorted(groups.values(), key=lambda members: -len(members))
    return [(failure_reason(members[0]), len(members), members[0]) for members in ordered]


_RELEASE_LABELS = {
    "logged_out": "logged out",
    "rejoined": "rejoined and logged out",
    "nothing_held": "nothing to end",
    "failed": "not ended",
    "abandoned": "abandoned",
}


def print_failure_summary(
    results: Sequence[FlowResult], summary: RunSummary, console: Console
) -> None:
    """What each kind of failure means and what to do, and how the sessions of the clients
    that did not log out by themselves were ended."""
    groups = _failure_groups(results)
    if groups:
        console.print("[bold]failures[/]:")
        for example, count, result in groups[:MAX_REASONS]:
            console.print(f"  [red]{_escape(example)}[/] x{count}")
            advice = advise(result)
            if advice is not None:
                console.print(f"    means: {_escape(advice.meaning)}")
                console.print(f"    do:    {_escape(advice.action)}")
        if len(groups) > MAX_REASONS:
            console.print(f"  ... {len(groups) - MAX_REASONS} more kind(s) of failure "
                          "(use --json)")
    if summary.releases:
        done = ", ".join(f"{_RELEASE_LABELS.get(name, name)} x{count}"
                         for name, count in sorted(summary.releases.items()))
        console.print(f"sessions of the clients that did not finish: {done}")
        failed = [result for result in results if result.release in ("failed", "abandoned")]
        if failed:
            sample = failed[0]
            why = f" ({_escape(sample.release_error)})" if sample.release_error else ""
            console.print(f"  [yellow]{len(failed)} session(s) not ended[/]{why}: they end "
                          "SESSION_GRACE seconds after their last connection closed; until "
                          "then their accounts get ALREADY_LOGGEDIN")


def _seen(result: FlowResult) -> str:
    seen = result.sightings
    return f"{seen['npcs']}/{seen['monsters']}/{seen['players']}"


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
