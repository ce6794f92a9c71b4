"""The gateway's admin HTTP server: ``/metrics``, ``/healthz``, ``/readyz``, ``/admin/*``.

Strategy: the server runs on anyio in the gateway's own event loop (not in a thread) so the admin
and readiness callbacks read the session table without locks. It speaks just enough HTTP/1.1 for
Prometheus, probes, the console and the CLI: one GET/HEAD/POST per connection (a POST's body is
ignored; its arguments are the query string), ``Connection: close``. The metrics it serves are a
:class:`~gateway_core.metrics.GatewayMetrics` (which knows nothing of this server).

Access: with a ``token`` (ADMIN_TOKEN) every ``/admin/*`` request, from any client, loopback
included, needs ``Authorization: Bearer <token>`` (401 otherwise); ``/metrics``, ``/healthz``
and ``/readyz`` never do. Without a token the server must be bound to a loopback address (the
gateway refuses to start otherwise: :func:`gateway_core.config.check_admin_binding`). With
``admin=False`` the server has no ``/admin/*`` at all (the separate METRICS_ADDR listener).
"""

from __future__ import annotations

import hmac
import inspect
import json
import logging
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, TypedDict

import anyio
import anyio.abc
from anyio.abc import SocketAttribute
from prometheus_client import CONTENT_TYPE_LATEST

if TYPE_CHECKING:
    from gateway_core.metrics import GatewayMetrics

__all__ = [
    "ActionCallback",
    "AdminConnection",
    "ConnectionsCallback",
    "MetricsServer",
    "ReadyCallback",
    "Request",
    "StatusCallback",
]

log = logging.getLogger(__name__)


class AdminConnection(TypedDict, total=False):
    """One row of ``/admin/connections`` (what ``gateway console`` shows).

    All keys are optional; the console shows ``-`` for a missing one.
    """

    id: int | str  # connection id
    peer: str  # "host:port" of the client
    state: str  # SessionState name
    user: str | None  # username (or user id)
    character: str | None  # character name
    map: int | None  # map id
    packets_in: int  # packets received from the client
    packets_out: int  # packets queued to the client
    bytes_in: int
    bytes_out: int
    send_queue: int  # bytes queued for the client, not written yet
    last_packet: str | None  # type of the last packet received
    idle_seconds: float


ReadyCallback = Callable[[], "bool | Awaitable[bool]"]
"""Returns True when the gateway can serve traffic (listener up, required backends reachable)."""

ConnectionsCallback = Callable[
    [], "Sequence[Mapping[str, Any]] | Awaitable[Sequence[Mapping[str, Any]]]"
]
"""Returns the rows of ``/admin/connections`` (see :class:`AdminConnection`)."""

StatusCallback = Callable[[], "Mapping[str, Any] | Awaitable[Mapping[str, Any]]"]
"""Returns the JSON object of ``/admin/status`` (uptime, listener, plugins, backends...)."""

ActionCallback = Callable[[Mapping[str, str]], "Mapping[str, Any] | Awaitable[Mapping[str, Any]]"]
"""``POST /admin/<name>``: called with the query arguments, returns the JSON answer; raise
``ValueError`` for bad arguments (400)."""


class Request(TypedDict):
    """One parsed request head."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names


_REASONS: Final = {200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized",
                   404: "Not Found", 405: "Method Not Allowed", 500: "Internal Server Error",
                   503: "Service Unavailable"}
_MAX_HEAD: Final = 8192


class MetricsServer:
    """HTTP server for ``/metrics``, ``/healthz``, ``/readyz`` and ``/admin/connections``.

    - ``/metrics``: Prometheus text exposition of the gateway's registry.
    - ``/healthz``: 200 whenever the process serves HTTP at all.
    - ``/readyz``: 200 when ``ready()`` is true (listener accepting, backends reachable), else
      503; no callback means ready.
    - ``/admin/connections``: JSON list from ``connections()`` (read-only, for the console).
    - ``/admin/status``: JSON object from ``status()`` (the console's header).
    - ``POST /admin/<name>``: ``actions[name](query)`` (e.g. ``drain``), JSON answer 202.

    ``token`` guards ``/admin/*`` (see the module's docstring); ``admin=False`` serves only
    ``/metrics``, ``/healthz`` and ``/readyz``.

    Use ``await task_group.start(server.serve)`` (returns the bound port) or
    ``async with server:``; :attr:`port` is the bound port (useful with port 0).
    """

    def __init__(
        self,
        metrics: GatewayMetrics,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ready: ReadyCallback | None = None,
        connections: ConnectionsCallback | None = None,
        status: StatusCallback | None = None,
        actions: Mapping[str, ActionCallback] | None = None,
        token: str | None = None,
        admin: bool = True,
        request_timeout: float = 5.0,
    ) -> None:
        self.metrics = metrics
        self.host = host
        self.requested_port = port
        self._ready = ready
        self._connections = connections
        self._status = status
        self._actions = dict(actions or {})
        self._token = token or None
        self.admin = admin
        self._timeout = request_timeout
        self._port: int | None = None
        self._tg: anyio.abc.TaskGroup | None = None

    @property
    def port(self) -> int:
        """The bound TCP port (raises RuntimeError before the server is listening)."""
        if self._port is None:
            raise RuntimeError("the metrics server is not listening")
        return self._port

    @property
    def url(self) -> str:
        """Base URL of the server as reachable from this host."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def bound_url(self) -> str:
        """Base URL with the address actually bound (``http://0.0.0.0:9102`` when bound to
        every interface): what the start-up banner prints."""
        host = self.host or "0.0.0.0"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    async def serve(
        self, *, task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Bind, report the bound port through ``task_status`` and serve until cancelled."""
        listener = await anyio.create_tcp_listener(
            local_host=self.host, local_port=self.requested_port, reuse_port=False
        )
        async with listener:
            self._port = int(listener.listeners[0].extra(SocketAttribute.local_port))
            task_status.started(self._port)
            try:
                await listener.serve(self._handle)
            finally:
                self._port = None

    async def __aenter__(self) -> MetricsServer:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        try:
            await self._tg.start(self.serve)
        except BaseException:
            self._tg.cancel_scope.cancel()
            await self._tg.__aexit__(None, None, None)
            self._tg = None
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        tg, self._tg = self._tg, None
        if tg is None:
            return None
        tg.cancel_scope.cancel()
        return await tg.__aexit__(exc_type, exc, tb)

    # -- request handling --------------------------------------------------------------------

    async def _handle(self, stream: anyio.abc.ByteStream) -> None:
        # Never let one request's failure escape: it would cancel the listener.
        try:
            async with stream:
                with anyio.fail_after(self._timeout):
                    head = await self._read_head(stream)
                    if head is None:
                        await self._send(stream, 400, "text/plain", b"bad request\n", True)
                        return
                    status, ctype, body = await self._route(head)
                    extra = 'WWW-Authenticate: Bearer realm="gateway admin"\r\n' \
                        if status == 401 else ""
                    await self._send(stream, status, ctype, body, head["method"] != "HEAD",
                                     extra)
        except (TimeoutError, anyio.EndOfStream, anyio.BrokenResourceError,
                anyio.ClosedResourceError, ConnectionError):
            return
        except Exception:
            log.exception("metrics HTTP request failed")

    async def _read_head(self, stream: anyio.abc.ByteStream) -> Request | None:
        data = b""
        while b"\r\n\r\n" not in data and b"\n\n" not in data:
            if len(data) > _MAX_HEAD:
                return None
            data += await stream.receive(4096)
        lines = data.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0].split(b"\n")
        request_line = lines[0].decode("latin-1").strip()
        parts = request_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            return None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.decode("latin-1").partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        path, _, query = parts[1].partition("?")
        return Request(method=parts[0].upper(), path=path,
                       query=dict(urllib.parse.parse_qsl(query)), headers=headers)

    def _authorized(self, request: Request) -> bool:
        if self._token is None:
            return True
        scheme, _, given = request["headers"].get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), self._token.encode())

    async def _route(self, request: Request) -> tuple[int, str, bytes]:
        method, path = request["method"], request["path"]
        if path.startswith("/admin/"):
            if not self.admin:
                return 404, "text/plain", b"not found\n"
            if not self._authorized(request):
                return 401, "text/plain", b"unauthorized: send Authorization: Bearer " \
                                          b"<ADMIN_TOKEN>\n"
            if method == "POST":
                action = self._actions.get(path.removeprefix("/admin/"))
                if action is None:
                    return 404, "text/plain", b"not found\n"
                try:
                    answer = await _maybe_await(action(request["query"]))
                except ValueError as exc:
                    return 400, "text/plain", f"bad request: {exc}\n".encode()
                return 202, "application/json", json.dumps(dict(answer), default=str).encode()
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", b"method not allowed\n"
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, self.metrics.render()
        if path == "/healthz":
            return 200, "text/plain", b"ok\n"
        if path == "/readyz":
            try:
                ready = True if self._ready is None else await _maybe_await(self._ready())
            except Exception as exc:
                log.warning("readiness check failed: %r", exc)
                return 503, "text/plain", f"not ready: {exc!r}\n".encode()
            return (200, "text/plain", b"ready\n") if ready else (
                503, "text/plain", b"not ready\n")
        if path == "/admin/connections":
            rows: Sequence[Mapping[str, Any]] = []
            if self._connections is not None:
                rows = await _maybe_await(self._connections())
            body = json.dumps([dict(row) for row in rows], default=str).encode()
            return 200, "application/json", body
        if path == "/admin/status" and self._status is not None:
            status = await _maybe_await(self._status())
            return 200, "application/json", json.dumps(dict(status), default=str).encode()
        return 404, "text/plain", b"not found\n"

    async def _send(
        self, stream: anyio.abc.ByteStream, status: int, ctype: str, body: bytes,
        with_body: bool, extra_headers: str = "",
    ) -> None:
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n{extra_headers}"
            "Connection: close\r\nCache-Control: no-store\r\n\r\n"
        ).encode("latin-1")
        await stream.send(head + body if with_body else head)


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value
