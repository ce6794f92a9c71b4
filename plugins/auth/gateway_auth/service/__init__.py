"""The reference auth service: accounts, login, worlds and sessions over gRPC.

:class:`AuthReferenceService` is what the plugin hands to the core (``gateway_register_services``):
the core adds it to a grpc.aio server, then starts it (database and schema: the revisions of
:data:`MIGRATIONS`) and stops it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from gateway_protos.v1 import auth_pb2_grpc

from gateway_auth.service.db import Base
from gateway_auth.service.options import AuthOptions
from gateway_auth.service.servicer import AuthServicer
from gateway_core.api import DatabaseService, Migrations, database_url

if TYPE_CHECKING:
    import grpc

    from gateway_core.api import ServiceConfig

__all__ = ["MIGRATIONS", "AuthOptions", "AuthReferenceService", "AuthServicer"]

log = logging.getLogger("gateway.service.auth")

#: The auth schema's revisions (gateway_auth.service.migrations).
MIGRATIONS = Migrations("gateway_auth.service.migrations", version_table="auth_alembic_version")


class AuthReferenceService(DatabaseService):
    """The auth service on one database (a :class:`gateway_core.service_host.ReferenceService`)."""

    def __init__(
        self,
        url: str,
        options: AuthOptions | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(url, Base.metadata, MIGRATIONS)
        self.options = options or AuthOptions()
        self._clock = clock
        self.servicer = AuthServicer(self.sessionmaker, self.options, clock=clock)
        #: End every stored session at :meth:`start` (set for the embedded default).
        self.end_sessions_at_start = False

    @classmethod
    def from_config(cls, config: ServiceConfig) -> AuthReferenceService:
        """Build from the core's service config: AUTH_DATABASE_URL if set, else the config's
        URL (DATABASE_URL or DATA_DIR/auth.sqlite3)."""
        settings = config.settings
        url = database_url(config, "AUTH_DATABASE_URL")
        service = cls(url, AuthOptions.from_settings(settings))
        # Embedded in a gateway's process, the sessions it finds were carried by a previous
        # process of that gateway, which is gone: they end at start, so its players can log
        # in again at once after a crash (a separate service keeps them for live gateways).
        service.end_sessions_at_start = config.embedded
        return service

    async def start(self) -> None:
        """Open the database (and end the sessions of a previous process when embedded)."""
        await super().start()
        if self.end_sessions_at_start:
            ended = await self.servicer.end_all_sessions()
            if ended:
                log.info("auth: %d session(s) of the gateway's previous process ended", ended)

    def add_to_server(self, server: grpc.aio.Server) -> None:
        """Register the Auth servicer on ``server``."""
        auth_pb2_grpc.add_AuthServicer_to_server(self.servicer, server)

    async def stop(self) -> None:
        """Close the database and let the argon2 worker threads go."""
        self.servicer.close()
        await super().stop()
