"""The reference character service: list, create, delete/undelete, select, load and save.

:class:`CharacterReferenceService` is what the plugin hands to the core
(``gateway_register_services``): the core starts it (database and schema), adds it to a grpc.aio
server, and stops it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from gateway_protos.v1 import character_pb2_grpc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway_character.service.db import database_url, open_engine
from gateway_character.service.options import CharacterOptions
from gateway_character.service.servicer import CharacterServicer

if TYPE_CHECKING:
    import grpc

    from gateway_core.grpc import ServiceConfig

__all__ = ["CharacterOptions", "CharacterReferenceService", "CharacterServicer"]


class CharacterReferenceService:
    """The character service on one database (a :class:`gateway_core.grpc.ReferenceService`)."""

    def __init__(
        self,
        url: str,
        options: CharacterOptions | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.options = options or CharacterOptions()
        self._engine: AsyncEngine | None = None
        # Created up front (the server may need it before start); bound to the engine in start().
        self._sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            expire_on_commit=False
        )
        self.servicer = CharacterServicer(self._sessionmaker, self.options, clock=clock)

    @classmethod
    def from_config(cls, config: ServiceConfig) -> CharacterReferenceService:
        """Build from the core's service config: CHARACTER_DATABASE_URL if set, else the
        config's URL (DATABASE_URL or DATA_DIR/character.sqlite3)."""
        settings = config.settings
        url = database_url(
            settings.get("CHARACTER_DATABASE_URL"), config.database_url, config.data_dir
        )
        return cls(url, CharacterOptions.from_settings(settings))

    def add_to_server(self, server: grpc.aio.Server) -> None:
        """Register the Character servicer on ``server``."""
        character_pb2_grpc.add_CharacterServicer_to_server(self.servicer, server)

    async def start(self) -> None:
        """Open the database, creating the schema on first start."""
        self._engine = await open_engine(self.url)
        self._sessionmaker.configure(bind=self._engine)

    async def stop(self) -> None:
        """Close the database."""
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
