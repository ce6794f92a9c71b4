"""The reference auth service: accounts, login, worlds and sessions over gRPC.

:class:`AuthReferenceService` is what the plugin hands to the core (``gateway_register_services``):
the core adds it to a grpc.aio server, then starts it (database and schema) and stops it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from gateway_protos.v1 import auth_pb2_grpc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway_auth.service.db import database_url, open_engine
from gateway_auth.service.options import AuthOptions
from gateway_auth.service.servicer import AuthServicer

if TYPE_CHECKING:
    import grpc

    from gateway_core.grpc import ServiceConfig

__all__ = ["AuthOptions", "AuthReferenceService", "AuthServicer"]


class AuthReferenceService:
    """The auth service on one database (a :class:`gateway_core.grpc.ReferenceService`)."""

    def __init__(
        self,
        url: str,
        options: AuthOptions | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.options = options or AuthOptions()
        self._clock = clock
        self._engine: AsyncEngine | None = None
        # The servicer is created up front (the server needs it before start) with a session
        # factory that is bound to the engine in start().
        self._sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            expire_on_commit=False
        )
        self.servicer = AuthServicer(self._sessionmaker, self.options, clock=clock)

    @classmethod
    def from_config(cls, config: ServiceConfig) -> AuthReferenceService:
        """Build from the core's service config: AUTH_DATABASE_URL if set, else the config's
        URL (DATABASE_URL or DATA_DIR/auth.sqlite3)."""
        settings = config.settings
        url = database_url(settings.get("AUTH_DATABASE_URL"), config.database_url, config.data_dir)
        return cls(url, AuthOptions.from_settings(settings))

    def add_to_server(self, server: grpc.aio.Server) -> None:
        """Register the Auth servicer on ``server``."""
        auth_pb2_grpc.add_AuthServicer_to_server(self.servicer, server)

    async def start(self) -> None:
        """Open the database, creating the schema on first start."""
        self._engine = await open_engine(self.url)
        self._sessionmaker.configure(bind=self._engine)

    async def stop(self) -> None:
        """Close the database."""
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
