"""The ``gateway`` command line: serve, plugins, service, console, content, bot, plugin commands.

Strategy: the parser is built after a tolerant first look at the settings and plugins, so
plugin commands (``gateway_register_commands``) appear in ``--help``; a broken configuration
does not hide the built-in commands, it is reported (exit code 2, one line naming the setting
and the value) when a command that needs it runs. Commands that need a backend get
:meth:`CommandContext.service_channel`: the remote service when ``<NAME>_SERVICE_ADDR`` is set,
else the plugin's reference service on loopback for the duration of the command - the same
client code path either way.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import importlib.util
import inspect
import json
import re
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

import anyio
import anyio.abc

from gateway_core import __version__
from gateway_core.backend_clients import open_channel
from gateway_core.capture_cli import configure_capture, configure_replay, run_capture, run_replay
from gateway_core.config import (
    CORE_SETTINGS,
    ConfigError,
    Settings,
    load_settings,
    service_addr_setting,
)
from gateway_core.protocol.numbering import get_profile
from gateway_core.registry import BUILTIN_COMMANDS, CommandSpec, PluginError
from gateway_core.service_host import ServiceHost, build_services
from gateway_core.tls import client_tls, server_credentials

if TYPE_CHECKING:
    import grpc.aio

    from gateway_core.plugins import GatewayPluginManager

__all__ = ["CliContext", "main"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2  # bad settings or plugins (argparse uses 2 for bad usage too)
class CommandError(Exception):
    """A command cannot run as asked; the message is printed and the exit code returned."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class CliContext:
    """What a command gets besides its arguments (:class:`gateway_core.registry.CommandContext`):
    validated settings, the plugin manager (with every registration collected) and access to
    backend services."""

    settings: Settings
    pm: GatewayPluginManager
    out: TextIO = field(default_factory=lambda: sys.stdout)

    @contextlib.asynccontextmanager
    async def service_channel(self, name: str) -> AsyncIterator[grpc.aio.Channel]:
        """A gRPC channel to backend ``name`` for the duration of the ``async with``.

        Remote when ``<NAME>_SERVICE_ADDR`` is set; otherwise the reference service of the
        plugin that provides it runs in-process on loopback (:class:`ServiceHost`) until the
        block exits. Calls carry the gateway's metadata and ``<NAME>_GRPC_DEADLINE`` (else
        GRPC_DEADLINE) by default.
        """
        deadline = self.settings.call_deadline(name)
        address = self.settings.service_addr(name)
        if address is not None:
            channel = open_channel(address, service=name, deadline=deadline,
                                   tls=client_tls(self.settings))
            try:
                yield channel
            finally:
                await channel.close()
            return
        if name not in self.pm.services:
            raise ConfigError(service_addr_setting(name), None,
                              f"no address set and no installed plugin provides {name!r}")
        services = build_services(self.pm.services, self.settings, [name])
        async with ServiceHost(services) as host:
            channel = open_channel(host.address, service=name, deadline=deadline)
            try:
                yield channel
            finally:
                await channel.close()


class _Bootstrap:
    """Loads settings and plugins once, in the same two passes as the gateway."""

    def __init__(self, settings_file: str | None) -> None:
        self.settings_file = settings_file
        self._loaded: tuple[Settings, GatewayPluginManager] | None = None

    def load(self) -> tuple[Settings, GatewayPluginManager]:
        if self._loaded is None:
            from gateway_core.plugins import GatewayPluginManager

            first = load_settings(settings_file=self.settings_file)
            pm = GatewayPluginManager()
            pm.load_plugins(load=first.GATEWAY_LOAD_PLUGINS,
                            disable=first.GATEWAY_DISABLE_PLUGINS)
            settings = load_settings(settings_file=self.settings_file,
                                     plugin_settings=pm.collect_settings())
            pm.collect_registrations(get_profile(settings.PACKET_PROFILE))
            self._loaded = settings, pm
        return self._loaded

    def context(self) -> CliContext:
        settings, pm = self.load()
        from gateway_core.logs import configure_logging

        configure_logging(settings.LOG_LEVEL, fmt=settings.LOG_FORMAT)
        return CliContext(settings, pm)


def _collect_commands(pm: GatewayPluginManager) -> dict[str, CommandSpec]:
    pm.collect_registrations()
    return pm.commands


def _bot_module() -> Any | None:
    # The load generator lives in gateway_core.bot.cli when that module is installed.
    try:
        if importlib.util.find_spec("gateway_core.bot.cli") is None:
            return None
        module = importlib.import_module("gateway_core.bot.cli")
    except ImportError:
        return None
    if not (hasattr(module, "configure") and hasattr(module, "run")):
        return None
    return module


def _run_async(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` on anyio's asyncio backend, with uvloop when installed."""
    use_uvloop = importlib.util.find_spec("uvloop") is not None
    return anyio.run(fn, *args, backend="asyncio", backend_options={"use_uvloop": use_uvloop})


def _leaf(exc: BaseException) -> BaseException:
    # Task groups wrap failures in exception groups; report the single root cause if any.
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


# --- built-in commands ----------------------------------------------------------------------


def _cmd_serve(args: argparse.Namespace, boot: _Bootstrap) -> int:
    from gateway_core.app import Gateway

    ctx = boot.context()
    gateway = Gateway(ctx.settings, pm=ctx.pm)
    if getattr(args, "console", False):
        if gateway.metrics_server is None and not ctx.settings.PACKET_METRICS_PORT:
            raise CommandError("--console reads the admin port: PACKET_METRICS_PORT must not "
                               "be 0", EXIT_CONFIG)
        from gateway_core.console import log_to_file

        print(f"gateway: logs go to {log_to_file(ctx.settings)} while the console runs",
              flush=True)
    stopped = threading.Event()

    async def run_gateway(*, task_status: anyio.abc.TaskStatus[Any]) -> None:
        try:
            await gateway.run(task_status=task_status)
        finally:
            stopped.set()

    async def serve() -> None:
        async with anyio.create_task_group() as tg:
            host, port = await tg.start(run_gateway)
            print(f"gateway {gateway.gateway_id} listening on {host}:{port}", flush=True)
            if gateway.metrics_server is not None:
                admin = gateway.metrics_server
                guard = "ADMIN_TOKEN required" if ctx.settings.ADMIN_TOKEN else "no token"
                print(f"admin on {admin.bound_url} (/metrics /healthz /readyz /admin/*; "
                      f"{guard})", flush=True)
            if gateway.public_metrics_server is not None:
                print(f"metrics on {gateway.public_metrics_server.bound_url}/metrics "
                      "(/metrics /healthz /readyz only)", flush=True)
            if gateway.service_host is not None:
                names = ", ".join(gateway.service_host.services)
                print(f"embedded services ({names}) on {gateway.service_host.address}",
                      flush=True)
            for service, address in ctx.settings.service_addrs().items():
                print(f"remote service {service} at {address}", flush=True)
            if getattr(args, "console", False) and gateway.metrics_server is not None:
                from gateway_core.console import run_beside

                url = gateway.metrics_server.url
                await anyio.to_thread.run_sync(
                    lambda: run_beside(url, ctx.settings, stopped), abandon_on_cancel=True)
                gateway.drain()  # quitting the console stops the gateway (with the notice)

    _run_async(serve)
    print("gateway stopped", flush=True)
    return EXIT_OK


#: Settings whose value is a secret: shown masked by ``gateway plugins`` (a key *file* is a
#: path, shown as it is).
_SECRET_NAME = re.compile(r"(TOKEN|PASSWORD|SECRET|_KEY)$")
#: The password of a URL (``scheme://user:password@host``).
_URL_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")


def masked(name: str, value: Any) -> Any:
    """``value`` of setting ``name`` as ``gateway plugins`` may print it: secrets and the
    passwords inside URLs become ``***``."""
    if isinstance(value, str) and value:
        if _SECRET_NAME.search(name):
            return "***"
        return _URL_PASSWORD.sub(r"\1***@", value)
    return value


def _plugin_rows(pm: GatewayPluginManager, commands: dict[str, CommandSpec],
                 settings: Settings | None = None) -> list[dict[str, Any]]:
    def effective(name: str) -> Any:
        return masked(name, settings.get(name)) if settings is not None else None

    rows = []
    for info in pm.plugin_infos():
        packets = sorted(
            ({"type": reg.name, "states": sorted(state.name for state in reg.states)}
             for reg in pm.packet_handlers.values() if reg.plugin == info.name),
            key=lambda row: str(row["type"]),
        )
        clients = [
            {"service": reg.service,
             "stub": f"{reg.stub_class.__module__}.{reg.stub_class.__qualname__}",
             "deadline": reg.deadline}
            for reg in pm.grpc_clients if reg.plugin == info.name
        ]
        rows.append({
            "name": info.name,
            "version": info.version,
            "distribution": info.dist_name,
            "hooks": list(info.hooks),
            "packets": packets,
            "grpc_clients": clients,
            "services": sorted(s for s, reg in pm.services.items() if reg.plugin == info.name),
            "settings": [{"name": s.name, "default": s.default, "value": effective(s.name),
                          "doc": s.doc}
                         for s in (*CORE_SETTINGS, *pm.plugin_settings) if s.plugin == info.name],
            "commands": sorted(c.name for c in commands.values() if c.plugin == info.name),
        })
    return rows


def _cmd_plugins(args: argparse.Namespace, boot: _Bootstrap,
                 commands: dict[str, CommandSpec]) -> int:
    settings, pm = boot.load()
    rows = _plugin_rows(pm, commands, settings)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return EXIT_OK
    for row in rows:
        print(f"{row['name']} {row['version'] or '?'} ({row['distribution'] or 'unregistered'})")
        for packet in row["packets"]:
            print(f"  packet  {packet['type']}  [{', '.join(packet['states'])}]")
        for client in row["grpc_clients"]:
            deadline = f", deadline {client['deadline']}s" if client["deadline"] else ""
            print(f"  client  {client['service']}: {client['stub']}{deadline}")
        for service in row["services"]:
            print(f"  service {service}")
        for setting in row["settings"]:
            value, default = setting["value"], setting["default"]
            note = "" if value == default else f"  (default {default!r})"
            print(f"  setting {setting['name']} = {value!r}{note}")
        for command in row["commands"]:
            print(f"  command gateway {command}")
    return EXIT_OK


def default_service_listen(name: str, settings: Settings) -> str:
    """Where ``gateway service <name>`` listens without ``--listen``: LISTEN_ADDR at the port
    of ``<NAME>_SERVICE_ADDR`` (a ``unix:`` address as is), else LISTEN_ADDR on a free port."""
    host = str(settings.LISTEN_ADDR)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    address = settings.service_addr(name)
    if address is None:
        return f"{host}:0"
    if address.startswith("unix:"):
        return address
    port = address.rpartition(":")[2]
    return f"{host}:{port}" if port.isdigit() else f"{host}:0"


def _cmd_service(args: argparse.Namespace, boot: _Bootstrap) -> int:
    ctx = boot.context()
    name = args.name.lower()
    if name not in ctx.pm.services:
        available = ", ".join(sorted(ctx.pm.services)) or "none"
        raise CommandError(f"no installed plugin provides a service named {name!r} "
                           f"(available: {available})", EXIT_CONFIG)
    listen = args.listen or default_service_listen(name, ctx.settings)
    services = build_services(ctx.pm.services, ctx.settings, [name])
    if args.migrate:
        return _migrate(name, services[name])
    credentials = server_credentials(ctx.settings)  # GRPC_TLS_*: TLS only, or plaintext

    async def run() -> None:
        host = ServiceHost(services, listen, credentials=credentials)
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            await host.start()
            try:
                print(f"service {name} listening on {host.address}", flush=True)
                async for _ in signals:
                    break
            finally:
                with anyio.CancelScope(shield=True):
                    await host.stop()

    _run_async(run)
    print(f"service {name} stopped", flush=True)
    return EXIT_OK


def _migrate(name: str, service: Any) -> int:
    """Bring the service's database schema up to date (a start and a stop, serving nothing):
    its migrations, or its missing tables for a service without them."""
    if not hasattr(service, "migrations"):
        print(f"service {name} keeps no database: nothing to migrate", flush=True)
        return EXIT_OK

    async def run() -> None:
        await service.start()
        await service.stop()

    _run_async(run)
    what = "migrated to the newest revision" if service.migrations else "tables created"
    print(f"service {name}: database {what}", flush=True)
    return EXIT_OK


def _cmd_console(args: argparse.Namespace, boot: _Bootstrap) -> int:
    from gateway_core.console import run as run_console

    try:
        settings = boot.load()[0]
    except (ConfigError, PluginError):
        settings = None  # the console needs no valid configuration: --url is enough
    return run_console(args, settings=settings)


def _cmd_drain(args: argparse.Namespace, boot: _Bootstrap) -> int:
    from gateway_core.admin_client import drain

    return drain(args, boot.load()[0])


def _cmd_capture(args: argparse.Namespace, boot: _Bootstrap) -> int:
    if args.action:  # show FILE needs no settings
        return run_capture(args, None)
    return run_capture(args, boot.load()[0])


def _cmd_content(args: argparse.Namespace) -> int:
    # Needs no settings or plugins: a pack is checked the same whatever the configuration.
    from gateway_core.content.check import check

    return EXIT_OK if check(args.path) else EXIT_FAILURE


def _run_command(spec: CommandSpec, args: argparse.Namespace, boot: _Bootstrap) -> int:
    ctx = boot.context()
    if inspect.iscoroutinefunction(spec.run):
        result = _run_async(spec.run, args, ctx)
    else:
        result = spec.run(args, ctx)
    return int(result or 0)


# --- parser and entry point -----------------------------------------------------------------


def build_parser(
    commands: dict[str, CommandSpec] | None = None, bot: Any | None = None
) -> argparse.ArgumentParser:
    """The ``gateway`` argument parser (built-ins, the bot when installed, plugin commands)."""
    from gateway_core.console import configure as configure_console

    parser = argparse.ArgumentParser(
        prog="gateway",
        description="rose-gateway: a plugin-based packet gateway for ROSE Online clients.",
        epilog="Settings come from defaults < settings file < environment variables; "
               "see README.md (Configuration).",
    )
    parser.add_argument("--version", action="version", version=f"rose-gateway {__version__}")
    parser.add_argument("--settings", metavar="FILE",
                        help="TOML or YAML settings file (default: $SETTINGS_FILE)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = sub.add_parser("serve", help="run the gateway (and the embedded reference services)",
                           description="Run the gateway until SIGTERM/SIGINT (a drain: see "
                                       "DRAIN_NOTICE_SECONDS). Reference services run "
                                       "in-process unless <SERVICE>_SERVICE_ADDR points "
                                       "elsewhere.")
    serve.add_argument("--console", action="store_true",
                       help="show the live console while serving (logs go to "
                            "DATA_DIR/gateway.log; q drains and stops the gateway)")
    from gateway_core.admin_client import configure_drain

    configure_drain(sub.add_parser(
        "drain", help="drain a running gateway through its admin port",
        description="Ask a running gateway to drain: /readyz 503 at once, no new "
                    "connections, the players in the world are warned for the notice period "
                    "and saved, then the gateway stops (exit 0)."))
    plugins = sub.add_parser("plugins", help="list installed plugins and what they register",
                             description="List the loaded plugins: version, distribution, "
                                         "packet types with states, gRPC clients, services.")
    plugins.add_argument("--json", action="store_true", help="print JSON")
    service = sub.add_parser("service", help="run one reference backend service",
                             description="Run one plugin-provided reference service as its own "
                                         "process until SIGTERM/SIGINT.")
    service.add_argument("name", help="service name, e.g. auth")
    service.add_argument("--listen", metavar="ADDR",
                         help="host:port to bind (default: LISTEN_ADDR at the port of "
                              "<NAME>_SERVICE_ADDR, else a free port)")
    service.add_argument("--migrate", action="store_true",
                         help="bring the service's database schema up to date and exit")
    configure_console(sub.add_parser("console", help="live view of a running gateway",
                                     description="Render a running gateway's connections and "
                                                 "totals from its metrics/admin HTTP port."))
    configure_capture(sub.add_parser(
        "capture", help="capture a connection's packets; show a capture file",
        description="Start or stop a packet capture on a running gateway through its admin "
                    "port (--user NAME, --connection ID, --stop, --list), or print a capture "
                    "file decoded (show FILE). The file format is docs/capture.md."))
    configure_replay(sub.add_parser(
        "replay", help="replay a capture's client side against a gateway and compare",
        description="Replay the client packets of a capture against the gateway at --to and "
                    "report where its replies differ from the recorded ones (per-run fields "
                    "such as session ids, object ids and timestamps are named and ignored). "
                    "Exit code 0 when they are equal, 1 otherwise."))
    content = sub.add_parser("content", help="game content packs (maps, monsters, items...)",
                             description="Work with content packs (docs/content.md).")
    content_sub = content.add_subparsers(dest="content_command", metavar="ACTION", required=True)
    content_check = content_sub.add_parser(
        "check", help="validate a pack and print its summary or every problem",
        description="Load a content pack (a directory with pack.toml, or one TOML file) and "
                    "check it; exit 0 and print a summary when it is valid, else print each "
                    "problem on its own line and exit 1.")
    content_check.add_argument("path", nargs="?", metavar="PATH",
                               help="the pack to check (default: the shipped pack)")
    if bot is not None:
        bot_parser = sub.add_parser("bot", help="scripted game clients (load and smoke tests)",
                                    description=(bot.__doc__ or "").strip() or None)
        bot.configure(bot_parser)
    for spec in (commands or {}).values():
        command_parser = sub.add_parser(spec.name, help=f"{spec.help} [{spec.plugin}]",
                                        description=spec.help)
        spec.configure(command_parser)
    _settings_anywhere(sub)
    return parser


def _settings_anywhere(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Accept ``--settings FILE`` after a (sub)command too (``main`` reads it from anywhere
    in the arguments before the parser is built)."""
    for command_parser in sub.choices.values():
        if not any("--settings" in action.option_strings for action in command_parser._actions):
            command_parser.add_argument("--settings", metavar="FILE", default=argparse.SUPPRESS,
                                        help="settings file (as before the command)")
        for action in command_parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _settings_anywhere(action)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gateway`` console script; returns the exit code (130 after
    Ctrl-C, however early: no traceback)."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        return 130


def _address_in_use(exc: OSError, settings: Settings | None) -> str:
    """The message for a port that is taken, naming the settings that chose it."""
    port = None
    found = re.search(r"(\d+)\)?: address already in use", str(exc), re.IGNORECASE)
    if found:
        port = int(found.group(1))
    named = []
    if settings is not None and port is not None:
        for name in ("SERVICE_PORT", "PACKET_METRICS_PORT"):
            if settings.get(name) == port:
                named.append(f"{name}={port}")
        metrics_addr = str(settings.get("METRICS_ADDR") or "")
        if metrics_addr.endswith(f":{port}"):
            named.append(f"METRICS_ADDR={metrics_addr}")
    where = f"port {port}" if port is not None else "an address"
    setting = f" (set by {', '.join(named)})" if named else ""
    return (f"gateway: cannot listen: {where}{setting} is already in use by another process; "
            f"stop it or choose another port ({exc})")


def _main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--settings")
    known, _ = pre.parse_known_args(argv)
    words = [arg for arg in argv if not arg.startswith("-")]
    if words[:1] == ["bot"] and "--json" not in argv and sys.stderr.isatty():
        # Loading the plugins (their settings, the bot's --warp content) takes seconds.
        print("gateway bot: loading plugins and settings...", file=sys.stderr, flush=True)
    boot = _Bootstrap(known.settings)

    commands: dict[str, CommandSpec] = {}
    boot_error: Exception | None = None
    try:
        commands = _collect_commands(boot.load()[1])
    except (ConfigError, PluginError) as exc:
        boot_error = exc  # built-in commands still parse; the error is reported when needed
    bot = _bot_module()
    parser = build_parser(commands, bot)

    positional = [arg for arg in argv if not arg.startswith("-")]
    if boot_error is not None and positional and positional[0] not in BUILTIN_COMMANDS \
            and positional[0] != known.settings:
        print(f"gateway: {boot_error}", file=sys.stderr)
        return EXIT_CONFIG
    args = parser.parse_args(argv)

    try:
        if args.command == "serve":
            return _cmd_serve(args, boot)
        if args.command == "plugins":
            return _cmd_plugins(args, boot, commands)
        if args.command == "service":
            return _cmd_service(args, boot)
        if args.command == "console":
            return _cmd_console(args, boot)
        if args.command == "capture":
            return _cmd_capture(args, boot)
        if args.command == "replay":
            return run_replay(args)
        if args.command == "drain":
            return _cmd_drain(args, boot)
        if args.command == "content":
            return _cmd_content(args)
        if args.command == "bot" and bot is not None:
            return int(bot.run(args, boot.context()) or 0)
        return _run_command(commands[args.command], args, boot)
    except KeyboardInterrupt:
        return 130
    except BaseException as exc:
        root = _leaf(exc)
        if isinstance(root, ConfigError | PluginError):
            print(f"gateway: {root}", file=sys.stderr)
            return EXIT_CONFIG
        if isinstance(root, CommandError):
            print(f"gateway: {root}", file=sys.stderr)
            return root.code
        if isinstance(root, OSError):
            if root.errno == errno.EADDRINUSE:
                try:
                    settings: Settings | None = boot.load()[0]
                except (ConfigError, PluginError):
                    settings = None
                print(_address_in_use(root, settings), file=sys.stderr)
            else:
                print(f"gateway: {root}", file=sys.stderr)
            return EXIT_FAILURE
        if isinstance(root, KeyboardInterrupt):
            return 130
        raise
