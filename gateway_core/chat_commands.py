"""Chat commands: lines typed in normal chat that start with ``/`` (``/kick NAME``).

Plugins register commands with ``gateway_register_chat_commands`` (registrar:
:class:`gateway_core.registry.ChatCommandRegistrar`); each command has a default access level,
which the setting GM_COMMAND_LEVELS may override per command.

Strategy: commands cost nothing to the packets that are not chat commands. At start-up, when
any command is registered, the gateway replaces the route of ``PAKCS_NORMAL_CHAT`` by
:meth:`ChatCommands.wrap`'s: a plain function that looks at the first byte of the line and
hands anything that is not a command to the plugin that handles normal chat (the world plugin),
unchanged, in the same call; without such a plugin the core still answers the commands. A
command line never reaches other players: it runs when the session's ``access_level`` is high
enough, and anything else (no access, an unknown name, bad arguments, a handler that raised)
gets a whisper from ``server msg``. Every line is counted in
``gateway_chat_commands_total{command,outcome}`` (``command`` is a registered name or
``unknown``, so a client cannot grow the label set). A handler runs with the registering
plugin's own :class:`~gateway_core.context.PacketContext` on the session (its runtime,
clients and records writer), made once per session and plugin; an exception in it is logged,
counted (also in ``gateway_handler_errors_total{plugin}``) and never closes the connection.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter

from gateway_core.backend_clients import grpc_call_context
from gateway_core.chat_guard import SERVER_SENDER, clean_chat, server_message
from gateway_core.context import PacketContext
from gateway_core.protocol.packets import TEXT_ENCODING
from gateway_core.registry import ChatCommandRegistration, PacketRegistration
from gateway_core.session import Key, Session, SessionState

__all__ = [
    "NORMAL_CHAT",
    "SERVER_SENDER",
    "AvailableCommand",
    "ChatCommand",
    "ChatCommandError",
    "ChatCommands",
    "int_argument",
    "server_message",
]

log = logging.getLogger("gateway.chat_commands")

#: The packet whose lines may be commands.
NORMAL_CHAT: Final = "PAKCS_NORMAL_CHAT"
#: Longest argument text a command accepts (UTF-8 bytes); longer is a usage error.
MAX_ARGUMENT_BYTES: Final = 255
#: Longest decimal number an argument may be (digits); longer is a usage error.
MAX_DIGITS: Final = 20

#: Outcomes counted in ``gateway_chat_commands_total``.
OK, DENIED, UNKNOWN, BAD_ARGS, REFUSED, ERROR = (
    "ok", "denied", "unknown", "bad_args", "refused", "error")

_CONTEXTS = Key[dict[str, PacketContext[Any]]]("core.chat_command_contexts")


class ChatCommandError(Exception):
    """Raise from a chat command handler to refuse the command: the player is whispered
    ``message``, or the command's usage when there is none. Nothing else happens."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or "bad arguments")
        self.message = message


def int_argument(word: str, *, low: int, high: int) -> int:
    """``word`` as a decimal integer between ``low`` and ``high``; :class:`ChatCommandError`
    (the usage) when it is not one (non-numeric, too long, out of range)."""
    text = word.strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not digits or len(digits) > MAX_DIGITS or not digits.isascii() or not digits.isdigit():
        raise ChatCommandError()
    value = int(text, 10)
    if not low <= value <= high:
        raise ChatCommandError()
    return value


@dataclass(frozen=True, slots=True)
class AvailableCommand:
    """A command as ``/help`` lists it."""

    name: str
    usage: str
    help: str
    level: int

    @property
    def synopsis(self) -> str:
        """``/name USAGE``."""
        return f"/{self.name} {self.usage}".rstrip()


@dataclass(frozen=True, slots=True)
class ChatCommand:
    """One command line: ``name`` (lower-case, without the ``/``), ``args`` (the raw argument
    text, stripped) and ``words`` (``args`` split on whitespace)."""

    name: str
    args: str
    words: tuple[str, ...]
    #: The command's usage line, ``/name USAGE``.
    usage: str = ""
    _catalog: Callable[[], list[AvailableCommand]] = field(
        default=lambda: [], repr=False, compare=False
    )

    def available(self) -> list[AvailableCommand]:
        """The commands the typing session may use, by name."""
        return self._catalog()


@dataclass(frozen=True, slots=True)
class _Command:
    registration: ChatCommandRegistration
    level: int

    @property
    def info(self) -> AvailableCommand:
        reg = self.registration
        return AvailableCommand(reg.name, reg.usage, reg.help, self.level)


class ChatCommands:
    """The chat commands of one gateway, and the dispatch of the lines that are commands.

    ``levels`` overrides the registered access levels (GM_COMMAND_LEVELS; a name nobody
    registered is logged); ``context_for(session, plugin)`` makes a plugin's context;
    ``on_error(plugin)`` counts a handler that raised.
    """

    def __init__(
        self,
        registrations: Mapping[str, ChatCommandRegistration],
        *,
        context_for: Callable[[Session, str], PacketContext[Any]],
        levels: Mapping[str, int] | None = None,
        registry: CollectorRegistry | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        levels = dict(levels or {})
        #: GM_COMMAND_LEVELS names no plugin registered (reported at start-up).
        self.unknown_levels = tuple(sorted(set(levels) - set(registrations)))
        if self.unknown_levels:
            log.warning("GM_COMMAND_LEVELS names chat commands nobody registered: %s",
                        ", ".join(self.unknown_levels))
        self._commands = {
            name: _Command(reg, levels.get(name, reg.level))
            for name, reg in sorted(registrations.items())
        }
        self._context_for = context_for
        self._on_error = on_error
        self.counter = Counter(
            "gateway_chat_commands", "Chat command lines, by command and outcome.",
            ["command", "outcome"], registry=registry,
        )

    def __len__(self) -> int:
        return len(self._commands)

    def __iter__(self) -> Iterator[str]:
        return iter(self._commands)

    def level(self, name: str) -> int | None:
        """The access level ``/name`` requires (None: no such command)."""
        command = self._commands.get(name)
        return command.level if command is not None else None

    def available(self, access_level: int) -> list[AvailableCommand]:
        """The commands an account of ``access_level`` may use, by name."""
        return [c.info for c in self._commands.values() if c.level <= access_level]

    # -- routing ---------------------------------------------------------------------------

    def wrap(self, routes: Mapping[str, PacketRegistration]) -> dict[str, PacketRegistration]:
        """``routes`` with ``PAKCS_NORMAL_CHAT`` answering the commands first (unchanged when
        no command is registered). Lines that are not commands go to the plugin that handles
        normal chat, in the same call; without one they are dropped."""
        out = dict(routes)
        if not self._commands:
            return out
        original = out.get(NORMAL_CHAT)
        inner = original.handler if original is not None else None
        inner_states = original.states if original is not None else frozenset()
        run = self.run
        in_world = SessionState.IN_WORLD

        def on_normal_chat(ctx: PacketContext[Any], packet: Any) -> Any:
            session = ctx.session
            message = getattr(packet, "message", None)
            if (isinstance(message, bytes) and message[:1] == b"/"
                    and session.state is in_world):
                return run(session, message)
            if inner is None or session.state not in inner_states:
                return None
            return inner(ctx, packet)

        out[NORMAL_CHAT] = PacketRegistration(
            original.plugin if original is not None else "core",
            NORMAL_CHAT,
            on_normal_chat,
            inner_states | {in_world},
        )
        return out

    # -- running ---------------------------------------------------------------------------

    async def run(self, session: Session, raw: bytes) -> None:
        """Answer one command line of ``session`` (``raw`` starts with ``/``); never raises
        but for cancellation. Control characters are removed first (:func:`clean_chat`): an
        argument such as the text of ``/announce`` reaches nobody with them."""
        text = (clean_chat(raw) or b"").decode(TEXT_ENCODING, "replace").strip()
        parts = text[1:].split(None, 1)
        typed = parts[0] if parts else ""
        args = parts[1].strip() if len(parts) > 1 else ""
        name = typed.lower()
        command = self._commands.get(name)
        if command is None:
            self._count("unknown", UNKNOWN)
            shown = typed[:32] if typed else ""
            session.send(server_message(
                f"Unknown command /{shown}. Type /help for the commands you may use."))
            return
        if session.access_level < command.level:
            self._count(name, DENIED)
            log.info("connection #%d (account %s, level %d) may not use /%s",
                     session.connection_id, session.user_id, session.access_level, name)
            session.send(server_message(f"You are not allowed to use /{name}."))
            return
        info = command.info
        if len(args.encode("utf-8")) > MAX_ARGUMENT_BYTES:
            self._count(name, BAD_ARGS)
            session.send(server_message(f"Usage: {info.synopsis}"))
            return
        plugin = command.registration.plugin
        ctx = self._context(session, plugin)
        level = session.access_level
        line = ChatCommand(name, args, tuple(args.split()), info.synopsis,
                           lambda: self.available(level))
        token = grpc_call_context.set(session) if ctx.clients else None
        try:
            result = command.registration.handler(ctx, line)
            if inspect.isawaitable(result):
                await result
        except ChatCommandError as refusal:
            if refusal.message is None:
                self._count(name, BAD_ARGS)
                session.send(server_message(f"Usage: {info.synopsis}"))
            else:
                self._count(name, REFUSED)
                session.send(server_message(refusal.message))
        except Exception:
            log.exception("plugin %s raised in chat command /%s on connection #%d", plugin,
                          name, session.connection_id)
            self._count(name, ERROR)
            if self._on_error is not None:
                self._on_error(plugin)
            session.send(server_message(f"/{name} failed; the server log says why."))
        else:
            self._count(name, OK)
            log.info("connection #%d (account %s) ran /%s %s", session.connection_id,
                     session.user_id, name, args[:64])
        finally:
            if token is not None:
                grpc_call_context.reset(token)

    def _context(self, session: Session, plugin: str) -> PacketContext[Any]:
        contexts = session.plugin_data.get(_CONTEXTS)
        if contexts is None:
            contexts = {}
            session.plugin_data.set(_CONTEXTS, contexts)
        ctx = contexts.get(plugin)
        if ctx is None:
            ctx = contexts[plugin] = self._context_for(session, plugin)
        return ctx

    def _count(self, command: str, outcome: str) -> None:
        self.counter.labels(command=command, outcome=outcome).inc()


def on_help(ctx: PacketContext[Any], command: ChatCommand) -> None:
    """``/help``: whisper the commands the caller may use, one per line, with their usage."""
    ctx.reply(server_message("Commands you may use:"))
    for info in command.available():
        ctx.reply(server_message(f"{info.synopsis}: {info.help}" if info.help else info.synopsis))
