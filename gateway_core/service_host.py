"""Hosting of the reference backend services: one ``grpc.aio`` server with the standard health
service, used in-process by the embedded default and alone by ``gateway service <name>``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

import grpc
import grpc.aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc  # type: ignore[import-untyped]

from gateway_core.config import Settings

__all__ = [
    "ReferenceService",
    "ServiceConfig",
    "ServiceHost",
    "ServiceRegistrationLike",
    "build_services",
    "hosted_services",
]

log = logging.getLogger(__name__)

#: Seconds a stopping host waits for the calls whose clients went away (each is one short
#: transaction; a hung one must not hold the stop).
ORPHAN_GRACE = 5.0


# --- calls whose client went away ------------------------------------------------------------


class FinishCancelledCalls(grpc.aio.ServerInterceptor):
    """Unary calls run to their end even when their client cancels them (a deadline, a
    gateway closing): the handler runs as a task of its own, shielded from the call's
    cancellation. Without it a cancel lands in the middle of a database transaction, whose
    rollback is then cancelled too (SQLAlchemy logs it with a traceback) and whose outcome the
    caller can only learn by retrying; with it a call is applied whole or not at all, and an
    idempotent retry finds it done. :meth:`drain` waits for the orphans at the host's stop."""

    def __init__(self) -> None:
        self.orphans: set[asyncio.Task[Any]] = set()

    async def intercept_service(self, continuation: Any, details: Any) -> Any:
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        behaviour = handler.unary_unary
        orphans = self.orphans

        async def shielded(request: Any, context: Any) -> Any:
            task = asyncio.ensure_future(behaviour(request, context))
            try:
                return await asyncio.shield(task)
            except asyncio.CancelledError:
                if not task.done():
                    orphans.add(task)
                    task.add_done_callback(_forget(orphans))
                raise

        return grpc.unary_unary_rpc_method_handler(
            shielded, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the calls whose clients went away."""
        if self.orphans:
            await asyncio.wait(set(self.orphans), timeout=max(timeout, 0.0))


def _forget(orphans: set[asyncio.Task[Any]]) -> Callable[[asyncio.Task[Any]], None]:
    def done(task: asyncio.Task[Any]) -> None:
        orphans.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: nobody waits for an orphan's outcome

    return done


# --- reference service hosting --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """What a reference service factory gets: its name, where to keep data, its settings."""

    service: str
    data_dir: Path
    database_url: str
    settings: Settings
    #: Run inside a gateway's process (``gateway serve``'s embedded default), not alone by
    #: ``gateway service``: whatever the service kept for gateways (sessions, holds) is of
    #: that one process's predecessors.
    embedded: bool = False

    @property
    def name(self) -> str:
        """Alias of :attr:`service`."""
        return self.service

    @classmethod
    def from_settings(cls, service: str, settings: Settings, *, embedded: bool = False
                      ) -> ServiceConfig:
        """DATA_DIR (created if missing) and DATABASE_URL, or a SQLite file per service."""
        data_dir = Path(settings.DATA_DIR).expanduser().resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.DATABASE_URL or f"sqlite+aiosqlite:///{data_dir / f'{service}.sqlite3'}"
        return cls(service=service, data_dir=data_dir, database_url=url, settings=settings,
                   embedded=embedded)


@runtime_checkable
class ReferenceService(Protocol):
    """A backend service implementation that :class:`ServiceHost` can run.

    ``start()`` runs before the server accepts calls (open storage, migrate), then
    ``add_to_server`` registers the servicer(s); ``stop()`` runs after the server stopped.
    """

    def add_to_server(self, server: grpc.aio.Server) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class ServiceRegistrationLike(Protocol):
    """What :func:`build_services` needs from ``gateway_core.plugins.ServiceRegistration``."""

    @property
    def plugin(self) -> str: ...
    @property
    def factory(self) -> Callable[[ServiceConfig], ReferenceService]: ...


def build_services(
    registrations: Mapping[str, ServiceRegistrationLike],
    settings: Settings,
    names: Iterable[str] | None = None,
) -> dict[str, ReferenceService]:
    """Instantiate reference services by name (default: each one whose
    ``<SERVICE>_SERVICE_ADDR`` is unset, i.e. the embedded default)."""
    embedded = names is None
    if names is None:
        names = [name for name in registrations if settings.service_addr(name) is None]
    services: dict[str, ReferenceService] = {}
    for name in names:
        if name not in registrations:
            raise KeyError(f"no installed plugin provides a service named {name!r}")
        registration = registrations[name]
        services[name] = registration.factory(
            ServiceConfig.from_settings(name, settings, embedded=embedded))
    return services


class ServiceHost:
    """Runs reference services on one ``grpc.aio`` server, with the standard health service.

    Each hosted service is marked SERVING in the health service under its name (``"auth"``),
    as is the server as a whole (``""``). ``address`` defaults to an ephemeral loopback port
    (the embedded default); :attr:`address` is the bound address after :meth:`start`. With
    ``credentials`` (:func:`gateway_core.tls.server_credentials`) the port speaks TLS only.
    """

    def __init__(
        self,
        services: Mapping[str, ReferenceService],
        address: str = "127.0.0.1:0",
        *,
        grace: float = 1.0,
        credentials: grpc.ServerCredentials | None = None,
    ) -> None:
        self.services = dict(services)
        self.credentials = credentials
        self.requested_address = address
        self.grace = grace
        self.health = health.aio.HealthServicer()
        self._server: grpc.aio.Server | None = None
        self._finish = FinishCancelledCalls()
        self._address: str | None = None
        self._started: list[ReferenceService] = []

    @property
    def address(self) -> str:
        """``host:port`` actually bound (raises RuntimeError before :meth:`start`)."""
        if self._address is None:
            raise RuntimeError("the service host is not started")
        return self._address

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self.address.rpartition(":")[2])

    async def start(self) -> str:
        """Start the services, bind and serve; returns the bound address."""
        if self._server is not None:
            raise RuntimeError("the service host is already started")
        try:
            for service in self.services.values():
                await service.start()
                self._started.append(service)
            server = grpc.aio.server(options=[("grpc.so_reuseport", 0)],
                                     interceptors=[self._finish])
            self._server = server
            for service in self.services.values():
                service.add_to_server(server)
            health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
            try:
                if self.credentials is not None:
                    port = server.add_secure_port(self.requested_address, self.credentials)
                else:
                    port = server.add_insecure_port(self.requested_address)
            except RuntimeError as exc:
                raise OSError(f"cannot bind gRPC services to {self.requested_address}: "
                              f"{exc}") from None
            if port == 0 and not self.requested_address.endswith(":0"):
                raise OSError(f"cannot bind gRPC services to {self.requested_address}")
            host = self.requested_address.rpartition(":")[0]
            await server.start()
            self._address = f"{host}:{port}"
            for name in self.services:
                await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
            await self.health.set("", health_pb2.HealthCheckResponse.SERVING)
        except BaseException:
            await self.stop()
            raise
        log.info("reference services %s listening on %s", ", ".join(self.services) or "(none)",
                 self._address)
        return self._address

    async def stop(self, grace: float | None = None) -> None:
        """Mark everything NOT_SERVING, stop the server, then stop the services (reverse order)."""
        server, self._server = self._server, None
        self._address = None
        if server is not None:
            with contextlib.suppress(Exception):
                await self.health.enter_graceful_shutdown()
            await server.stop(self.grace if grace is None else grace)
            # Calls their clients gave up on finish before the databases close under them.
            await self._finish.drain(ORPHAN_GRACE)
        started, self._started = self._started, []
        for service in reversed(started):
            try:
                await service.stop()
            except Exception:
                log.exception("reference service %r failed to stop", service)

    async def wait(self) -> None:
        """Wait until the server terminates (after :meth:`stop`)."""
        if self._server is not None:
            await self._server.wait_for_termination()

    async def __aenter__(self) -> ServiceHost:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


@contextlib.asynccontextmanager
async def hosted_services(
    services: Mapping[str, ReferenceService], address: str = "127.0.0.1:0",
    *, credentials: grpc.ServerCredentials | None = None,
) -> AsyncIterator[ServiceHost]:
    """``async with hosted_services({...}) as host:`` - start and reliably stop a host."""
    host = ServiceHost(services, address, credentials=credentials)
    await host.start()
    try:
        yield host
    finally:
        await host.stop()
