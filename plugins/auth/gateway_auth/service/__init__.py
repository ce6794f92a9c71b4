"""The reference auth service: accounts, login, worlds and sessions over gRPC.

:class:`AuthReferenceService` is what the plugin hands to the core (``gateway_register_services``):
the core adds it to a grpc.aio server, then starts it (database and schema: the revisions of
:data:`MIGRATIONS`) and stops it.
"""

from __future__ import annotations

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

    @classmethod
    def from_config(cls, config: ServiceConfig) -> AuthReferenceService:
        """Build from the core's service config: AUTH_DATABASE_URL if set, else the config's
        URL (DATABASE_URL or DATA_DIR/auth.sqlite3)."""
        settings = config.settings
        url = database_url(config, "AUTH_DATABASE_URL")
        return cls(url, AuthOptions.from_settings(settings))

    def add_to_server(self, server: grpc.aio.Server) -> None:
        """Register the Auth servicer on ``server``."""
        auth_pb2_grpc.add_AuthServicer_to_server(self.servicer, server)

    async def stop(self) -> None:
        """Close the database and let the argon2 worker threads go."""
        self.servicer.close()
        await super().stop()
