"""Backend clients: the gRPC channel registry the handlers use, with its interceptors.

Strategy: one ``grpc.aio`` channel per backend service, whoever declared it; its address is
``<SERVICE>_SERVICE_ADDR`` or, when unset, the embedded :class:`ServiceHost` on loopback, so the
embedded default and a remote deployment run the same client code. Every channel carries an
interceptor chain: the first adds metadata (a request id, this gateway's id and the session/user/
character of the packet being handled, read from the :data:`grpc_call_context` contextvar that the
router sets) and a default deadline; the second logs infrastructure failures and records latency
and status in :class:`~gateway_core.metrics.GatewayMetrics`.

Default deadlines apply to calls with a single response (unary-unary, stream-unary); calls with
a response stream (the chat/world push subscriptions) are long-lived and get none unless the
caller passes ``timeout=``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeAlias

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2, health_pb2_grpc  # type: ignore[import-untyped]

from gateway_core.config import ConfigError, Settings, service_addr_setting
from gateway_core.records import SELECTED_CHARACTER, Records
from gateway_core.tls import ClientTls, client_tls

if TYPE_CHECKING:
    from gateway_core.metrics import GatewayMetrics

__all__ = [
    "CallContext",
    "CallSource",
    "ClientRegistrationLike",
    "GrpcClients",
    "PluginClients",
    "call_context",
    "check_health",
    "client_at",
    "current_call_context",
    "grpc_call_context",
    "open_channel",
    "set_call_context",
]

log = logging.getLogger(__name__)

# Failures that mean "the backend is not working", logged as warnings. Other codes
# (NOT_FOUND, ALREADY_EXISTS, ...) are business answers and only logged at debug level.
_INFRASTRUCTURE_CODES: Final = frozenset({
    grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.DATA_LOSS,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
})
_LOOPBACK_PREFIXES: Final = ("127.", "localhost", "[::1]", "ipv4:127.", "unix:")


# --- call context ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who a backend call is made for; sent as ``x-*`` metadata with every call."""

    session_id: str | None = None
    user_id: int | str | None = None
    character_id: int | str | None = None
    connection_id: int | str | None = None
    request_id: str | None = None  # when unset, every call gets a fresh one

    @classmethod
    def from_session(cls, session: Any, request_id: str | None = None) -> CallContext:
        """The context of a :class:`gateway_core.session.Session` (or of an object read like
        one, by attribute name); the character is the selected-character record's."""
        connection_id = getattr(session, "connection_id", None)
        if connection_id is None:
            connection_id = getattr(session, "id", None)
        records = getattr(session, "records", None)
        if isinstance(records, Records):
            character = records.get(SELECTED_CHARACTER)
            character_id = character.character_id if character is not None else None
        else:
            character_id = getattr(session, "character_id", None)
        return cls(
            session_id=_opt_str(getattr(session, "session_id", None)),
            user_id=getattr(session, "user_id", None),
            character_id=character_id,
            connection_id=connection_id,
            request_id=request_id,
        )


#: What a backend call is made for: a :class:`CallContext`, or any object read like a session
#: (the router sets the session itself, so nothing is built for packets that call no backend).
CallSource: TypeAlias = object

grpc_call_context: ContextVar[CallSource | None] = ContextVar("grpc_call_context", default=None)
"""The context of the packet being handled. The router sets it around each handler call."""


def current_call_context() -> CallContext | None:
    """The :class:`CallContext` of the packet being handled (built from the session)."""
    source = grpc_call_context.get()
    if source is None or type(source) is CallContext:
        return source
    return CallContext.from_session(source)


def set_call_context(context: CallSource | None) -> Token[CallSource | None]:
    """Set :data:`grpc_call_context`; pass the token to ``grpc_call_context.reset``."""
    return grpc_call_context.set(context)


@contextlib.contextmanager
def call_context(context: CallSource | None) -> Iterator[CallSource | None]:
    """``with call_context(CallContext.from_session(s)):`` - backend calls inside carry it."""
    token = grpc_call_context.set(context)
    try:
        yield context
    finally:
        grpc_call_context.reset(token)


def _opt_str(value: object) -> str | None:
    if value is None or value == "" or value == b"":
        return None
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)


def _metadata_value(value: object) -> str:
    # Metadata values must be printable ASCII; anything else is percent-encoded.
    text = str(value)
    if text.isascii() and text.isprintable():
        return text
    return urllib.parse.quote(text, safe="")


# --- client interceptors --------------------------------------------------------------------


def _method_name(details: grpc.aio.ClientCallDetails) -> str:
    method: str | bytes = details.method
    if isinstance(method, bytes):
        method = method.decode("ascii", "replace")
    return method.lstrip("/")


class _MetadataInterceptor:
    """Adds x-request-id, x-gateway-id, x-session-id, x-user-id, x-character-id,
    x-connection-id, and the default deadline for single-response calls."""

    def __init__(self, deadline: float | None, gateway_id: str | None) -> None:
        self._deadline = deadline
        self._gateway_id = gateway_id

    def _details(self, details: grpc.aio.ClientCallDetails, *, single_response: bool) -> Any:
        metadata = grpc.aio.Metadata()
        present: set[str] = set()
        if details.metadata is not None:
            for key, value in details.metadata:
                metadata.add(key, value)
                present.add(key)
        context = current_call_context()
        extra: list[tuple[str, object]] = [
            ("x-request-id", (context.request_id if context else None) or uuid.uuid4().hex),
            ("x-gateway-id", self._gateway_id),
        ]
        if context is not None:
            extra += [
                ("x-session-id", context.session_id),
                ("x-user-id", context.user_id),
                ("x-character-id", context.character_id),
                ("x-connection-id", context.connection_id),
            ]
        for key, item in extra:
            if item is not None and key not in present:
                metadata.add(key, _metadata_value(item))
        timeout = details.timeout
        if timeout is None and single_response:
            timeout = self._deadline
        return grpc.aio.ClientCallDetails(
            details.method, timeout, metadata, details.credentials, details.wait_for_ready
        )

    async def intercept_unary_unary(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._details(client_call_details, single_response=True),
                                  request)

    async def intercept_unary_stream(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._details(client_call_details, single_response=False),
                                  request)

    async def intercept_stream_unary(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: Any,
    ) -> Any:
        return await continuation(self._details(client_call_details, single_response=True),
                                  request_iterator)

    async def intercept_stream_stream(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: Any,
    ) -> Any:
        return await continuation(self._details(client_call_details, single_response=False),
                                  request_iterator)


class _ObservingInterceptor:
    """Records latency and final status of every call and logs backend failures."""

    def __init__(self, service: str, metrics: GatewayMetrics | None) -> None:
        self._service = service
        self._metrics = metrics
        self._pending: set[asyncio.Task[None]] = set()

    async def _record(self, method: str, call: Any, started: float) -> None:
        try:
            code: grpc.StatusCode = await call.code()
        except asyncio.CancelledError:
            code = grpc.StatusCode.CANCELLED
        elapsed = time.perf_counter() - started
        if self._metrics is not None:
            self._metrics.grpc_call(method, code.name, elapsed)
        if code is grpc.StatusCode.OK:
            return
        try:
            details = await call.details()
        except (asyncio.CancelledError, grpc.RpcError):
            details = ""
        level = logging.WARNING if code in _INFRASTRUCTURE_CODES else logging.DEBUG
        log.log(level, "gRPC %s (service %s) ended with %s after %.3fs: %s",
                method, self._service, code.name, elapsed, details)

    def _watch(self, method: str, call: Any, started: float) -> None:
        # Streaming calls finish long after the interceptor returns: record on completion.
        def done(_: Any) -> None:
            task = asyncio.get_running_loop().create_task(self._record(method, call, started))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

        call.add_done_callback(done)

    async def intercept_unary_unary(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        method = _method_name(client_call_details)
        started = time.perf_counter()
        call = await continuation(client_call_details, request)
        try:
            await call
        except grpc.RpcError:
            pass  # the caller sees the same error when it awaits the call
        except asyncio.CancelledError:
            if self._metrics is not None:
                self._metrics.grpc_call(method, "CANCELLED", time.perf_counter() - started)
            raise
        await self._record(method, call, started)
        return call

    async def intercept_unary_stream(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        started = time.perf_counter()
        call = await continuation(client_call_details, request)
        self._watch(_method_name(client_call_details), call, started)
        return call

    async def intercept_stream_unary(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: Any,
    ) -> Any:
        started = time.perf_counter()
        call = await continuation(client_call_details, request_iterator)
        self._watch(_method_name(client_call_details), call, started)
        return call

    async def intercept_stream_stream(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: Any,
    ) -> Any:
        started = time.perf_counter()
        call = await continuation(client_call_details, request_iterator)
        self._watch(_method_name(client_call_details), call, started)
        return call


# grpc.aio files each interceptor under the FIRST of the four kinds it is an instance of, so
# one object cannot serve all four: each behaviour above is bound to one class per kind.
class _MetadataUnaryUnary(_MetadataInterceptor, grpc.aio.UnaryUnaryClientInterceptor):
    pass


class _MetadataUnaryStream(_MetadataInterceptor, grpc.aio.UnaryStreamClientInterceptor):
    pass


class _MetadataStreamUnary(_MetadataInterceptor, grpc.aio.StreamUnaryClientInterceptor):
    pass


class _MetadataStreamStream(_MetadataInterceptor, grpc.aio.StreamStreamClientInterceptor):
    pass


class _ObservingUnaryUnary(_ObservingInterceptor, grpc.aio.UnaryUnaryClientInterceptor):
    pass


class _ObservingUnaryStream(_ObservingInterceptor, grpc.aio.UnaryStreamClientInterceptor):
    pass


class _ObservingStreamUnary(_ObservingInterceptor, grpc.aio.StreamUnaryClientInterceptor):
    pass


class _ObservingStreamStream(_ObservingInterceptor, grpc.aio.StreamStreamClientInterceptor):
    pass


def _interceptor_chain(
    deadline: float | None, gateway_id: str | None, service: str,
    metrics: GatewayMetrics | None,
) -> list[grpc.aio.ClientInterceptor]:
    """Metadata + default deadline first, then observation, for each of the four call kinds."""
    return [
        _MetadataUnaryUnary(deadline, gateway_id),
        _MetadataUnaryStream(deadline, gateway_id),
        _MetadataStreamUnary(deadline, gateway_id),
        _MetadataStreamStream(deadline, gateway_id),
        _ObservingUnaryUnary(service, metrics),
        _ObservingUnaryStream(service, metrics),
        _ObservingStreamUnary(service, metrics),
        _ObservingStreamStream(service, metrics),
    ]


_RECONNECT_INITIAL_MS = 200
_RECONNECT_MAX_MS = 2_000


def _channel_options(address: str, server_name: str | None = None) -> list[tuple[str, Any]]:
    options: list[tuple[str, Any]] = [
        ("grpc.primary_user_agent", "rose-gateway"),
        # gRPC's default reconnect backoff grows to 120 s; a restarted backend must be used
        # again within seconds, not after players waited out a doubled backoff.
        ("grpc.initial_reconnect_backoff_ms", _RECONNECT_INITIAL_MS),
        ("grpc.min_reconnect_backoff_ms", _RECONNECT_INITIAL_MS),
        ("grpc.max_reconnect_backoff_ms", _RECONNECT_MAX_MS),
    ]
    if address.startswith(_LOOPBACK_PREFIXES):
        # An http(s)_proxy in the environment must not capture loopback backends.
        options.append(("grpc.enable_http_proxy", 0))
    if server_name is not None:
        # The name the service's certificate must carry (GRPC_TLS_SERVER_NAME).
        options.append(("grpc.ssl_target_name_override", server_name))
    return options


def open_channel(
    address: str,
    *,
    service: str = "",
    deadline: float | None = None,
    metrics: GatewayMetrics | None = None,
    gateway_id: str | None = None,
    tls: ClientTls | None = None,
) -> grpc.aio.Channel:
    """A ``grpc.aio`` channel to ``address`` with the gateway's interceptor chain: TLS with
    ``tls`` (:func:`gateway_core.tls.client_tls` of the settings), else plaintext.

    Call it with the event loop running. ``deadline`` is the default for single-response calls.
    """
    interceptors = _interceptor_chain(deadline, gateway_id, service, metrics)
    if tls is not None:
        return grpc.aio.secure_channel(
            address, tls.credentials, options=_channel_options(address, tls.server_name),
            interceptors=interceptors,
        )
    return grpc.aio.insecure_channel(
        address, options=_channel_options(address), interceptors=interceptors,
    )


class _DeadlineChannel:
    """Hands a stub the shared channel, with a registration's own default deadline."""

    def __init__(self, channel: grpc.aio.Channel, deadline: float) -> None:
        self._channel = channel
        self._deadline = deadline

    def unary_unary(self, *args: Any, **kwargs: Any) -> Any:
        return _WithTimeout(self._channel.unary_unary(*args, **kwargs), self._deadline)

    def stream_unary(self, *args: Any, **kwargs: Any) -> Any:
        return _WithTimeout(self._channel.stream_unary(*args, **kwargs), self._deadline)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._channel, name)


class _WithTimeout:
    __slots__ = ("_callable", "_timeout")

    def __init__(self, multicallable: Any, timeout: float) -> None:
        self._callable = multicallable
        self._timeout = timeout

    def __call__(self, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        return self._callable(*args, timeout=self._timeout if timeout is None else timeout,
                              **kwargs)


# --- client registry ------------------------------------------------------------------------


class ClientRegistrationLike(Protocol):
    """What :class:`GrpcClients` needs from ``gateway_core.plugins.ClientRegistration``."""

    @property
    def plugin(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def stub_class(self) -> Callable[[Any], Any]: ...
    @property
    def deadline(self) -> float | None: ...


class GrpcClients(Mapping[str, Any]):
    """The backend stubs of every declared gRPC client, one channel per service.

    ``clients["auth"]`` is the stub of the (first) registration of service ``auth``;
    :meth:`for_plugin` gives the stubs one plugin declared (its own stub class and deadline).
    Construct with the event loop running; ``await close()`` on shutdown.

    Addresses: ``<SERVICE>_SERVICE_ADDR`` when set, else ``embedded[service]`` (the address of
    the in-process :class:`ServiceHost`); neither is a :class:`ConfigError`. Channels to a
    configured address use TLS when the GRPC_TLS_* client settings say so
    (:mod:`gateway_core.tls`); those to the embedded loopback host are plaintext.
    Deadlines of single-response calls: ``<SERVICE>_GRPC_DEADLINE`` when set, else the
    registration's own, else GRPC_DEADLINE. ``embedded_services`` are the reference service
    objects that host serves: :meth:`embedded_service` hands one to a plugin that would
    rather call it in-process.
    """

    def __init__(
        self,
        registrations: Iterable[ClientRegistrationLike],
        settings: Settings,
        *,
        embedded: Mapping[str, str] | None = None,
        embedded_services: Mapping[str, object] | None = None,
        metrics: GatewayMetrics | None = None,
        gateway_id: str | None = None,
    ) -> None:
        embedded = embedded or {}
        self._embedded_services = {
            service: instance for service, instance in (embedded_services or {}).items()
            if settings.service_addr(service) is None
        }
        self.addresses: dict[str, str] = {}
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._stubs: dict[str, Any] = {}
        self._by_plugin: dict[str, dict[str, Any]] = {}
        #: Each service's registrations (plugin -> stub class and deadline), for :meth:`at`.
        self._registrations: dict[str, dict[str, ClientRegistrationLike]] = {}
        self._settings = settings
        self._metrics = metrics
        self._gateway_id = gateway_id
        #: Channels to other addresses of a service (:meth:`at`), and their stubs.
        self._extra_channels: dict[tuple[str, str], grpc.aio.Channel] = {}
        self._extra_stubs: dict[tuple[str, str, str | None], Any] = {}
        tls = client_tls(settings)
        self._tls = tls
        try:
            for registration in registrations:
                service = registration.service
                channel = self._channels.get(service)
                if channel is None:
                    remote = settings.service_addr(service)
                    address = remote or embedded.get(service)
                    if address is None:
                        raise ConfigError(
                            service_addr_setting(service), None,
                            f"plugin {registration.plugin!r} needs backend service {service!r}: "
                            "set its address or install a plugin providing the reference service",
                        )
                    channel = open_channel(address, service=service,
                                           deadline=settings.call_deadline(service),
                                           metrics=metrics, gateway_id=gateway_id,
                                           tls=tls if remote else None)
                    self._channels[service] = channel
                    self.addresses[service] = address
                stub = self._stub(registration, channel)
                self._stubs.setdefault(service, stub)
                self._by_plugin.setdefault(registration.plugin, {})[service] = stub
                self._registrations.setdefault(service, {}).setdefault(
                    registration.plugin, registration)
        except BaseException:
            # Channels already opened must not leak; closing needs the loop, so schedule it.
            for channel in self._channels.values():
                asyncio.get_running_loop().create_task(channel.close())
            raise

    def _stub(self, registration: ClientRegistrationLike, channel: grpc.aio.Channel) -> Any:
        target: Any = channel
        # An operator's <SERVICE>_GRPC_DEADLINE (the channel's default) beats the plugin's own.
        own = self._settings.service_deadline(registration.service) is not None
        if registration.deadline is not None and not own:
            target = _DeadlineChannel(channel, float(registration.deadline))
        return registration.stub_class(target)

    def __getitem__(self, service: str) -> Any:
        return self._stubs[service]

    def at(self, service: str, address: str, plugin: str | None = None) -> Any:
        """A stub of ``service`` on a channel to ``address`` instead of its own address (one
        of several processes of a service, e.g. a world shard): the stub class and deadline of
        ``plugin``'s registration of it (None: the first registration's), on a channel opened
        once per address with the interceptors, default deadline and metrics of every
        backend channel and TLS as for a configured address (GRPC_TLS_*); closed by
        :meth:`close`. The service's own address gives its usual stub. KeyError when no
        plugin declared ``service``."""
        registrations = self._registrations[service]
        registration = registrations.get(plugin) if plugin is not None else None
        if registration is None:
            registration = next(iter(registrations.values()))
            plugin = None
        if address == self.addresses.get(service):
            own = self._by_plugin.get(plugin, {}) if plugin is not None else self._stubs
            return own[service]
        key = (service, address, plugin)
        stub = self._extra_stubs.get(key)
        if stub is None:
            channel = self._extra_channels.get((service, address))
            if channel is None:
                channel = open_channel(address, service=service,
                                       deadline=self._settings.call_deadline(service),
                                       metrics=self._metrics, gateway_id=self._gateway_id,
                                       tls=self._tls)
                self._extra_channels[(service, address)] = channel
            stub = self._extra_stubs[key] = self._stub(registration, channel)
        return stub

    def __iter__(self) -> Iterator[str]:
        return iter(self._stubs)

    def __len__(self) -> int:
        return len(self._stubs)

    def for_plugin(self, plugin: str) -> PluginClients:
        """The stubs declared by ``plugin``, by service name (``ctx.clients``)."""
        return PluginClients(self, plugin, self._by_plugin.get(plugin, {}))

    def embedded_service(self, service: str) -> object | None:
        """The reference service object behind ``service``'s channel when that is the
        embedded host in this process (None for a configured address, or none embedded): a
        plugin may call it directly, skipping serialization and gRPC, as long as its gRPC
        path behaves the same."""
        return self._embedded_services.get(service)

    def channel(self, service: str) -> grpc.aio.Channel:
        """The shared channel of ``service`` (for calls without a generated stub)."""
        return self._channels[service]

    async def health(self, timeout: float = 1.0) -> dict[str, str]:
        """Ask each service's health endpoint; service -> ServingStatus name or a gRPC code."""
        results = await asyncio.gather(
            *(check_health(channel, service, timeout) for service, channel
              in self._channels.items())
        )
        return dict(zip(self._channels, results, strict=True))

    async def ready(self, timeout: float = 1.0) -> bool:
        """True when every service answers its health check with SERVING."""
        return all(status == "SERVING" for status in (await self.health(timeout)).values())

    async def close(self, grace: float | None = None) -> None:
        """Close every channel (pending calls are cancelled after ``grace`` seconds)."""
        channels = [*self._channels.values(), *self._extra_channels.values()]
        self._channels, self._extra_channels, self._extra_stubs = {}, {}, {}
        await asyncio.gather(*(channel.close(grace) for channel in channels),
                             return_exceptions=True)

    async def __aenter__(self) -> GrpcClients:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class PluginClients(Mapping[str, Any]):
    """One plugin's backend stubs by service name (what its handlers see as ``ctx.clients``),
    and :meth:`at` for another address of one of those services."""

    __slots__ = ("_clients", "_plugin", "_stubs")

    def __init__(self, clients: GrpcClients, plugin: str, stubs: Mapping[str, Any]) -> None:
        self._clients = clients
        self._plugin = plugin
        self._stubs = stubs

    def __getitem__(self, service: str) -> Any:
        return self._stubs[service]

    def __iter__(self) -> Iterator[str]:
        return iter(self._stubs)

    def __len__(self) -> int:
        return len(self._stubs)

    def at(self, service: str, address: str) -> Any:
        """:meth:`GrpcClients.at` with this plugin's stub class and deadline."""
        return self._clients.at(service, address, self._plugin)


def client_at(clients: Mapping[str, Any], service: str, address: str) -> Any:
    """The stub of ``service`` at ``address`` from ``clients`` (``ctx.clients`` or a
    gateway's ``clients``); ``address`` empty: ``clients[service]``. A plain mapping (no
    backends, or a test's stand-in) has no other addresses: its own stub. KeyError when
    ``service`` is not there."""
    at = getattr(clients, "at", None)
    if not address or at is None:
        return clients[service]
    return at(service, address)


async def check_health(channel: grpc.aio.Channel, service: str, timeout: float = 1.0) -> str:
    """The health status of ``service`` behind ``channel``: a ServingStatus name (``SERVING``)
    or the gRPC status code name of the failed check. A server that does not know the service
    name is asked for its overall status."""
    stub = health_pb2_grpc.HealthStub(channel)
    for name in (service, ""):
        try:
            response = await stub.Check(health_pb2.HealthCheckRequest(service=name),
                                        timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() is grpc.StatusCode.NOT_FOUND and name:
                continue
            return str(exc.code().name)
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))
    return "NOT_FOUND"
