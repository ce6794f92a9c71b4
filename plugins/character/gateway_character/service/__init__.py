"""The reference character service: list, create, delete/undelete, select, load and save;
items, zuly and the account storage (ChangeItems, GetStorage; model: :mod:`.inventory`).

:class:`CharacterReferenceService` is what the plugin hands to the core
(``gateway_register_services``): the core starts it (database and schema), adds it to a grpc.aio
server, and stops it. The content pack (CHARACTER_CONTENT: the starter kits) is loaded when the
service is built, so a pack that does not load fails start-up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from gateway_protos.v1 import character_pb2_grpc

from gateway_character.service.db import Base
from gateway_character.service.options import CharacterOptions
from gateway_character.service.servicer import CharacterServicer
from gateway_core.api import DatabaseService, Migrations, database_url, load_content

if TYPE_CHECKING:
    import grpc

    from gateway_core.api import ContentPack, ServiceConfig

__all__ = ["MIGRATIONS", "CharacterOptions", "CharacterReferenceService", "CharacterServicer"]

#: The character schema's revisions (gateway_character.service.migrations).
MIGRATIONS = Migrations(
    "gateway_character.service.migrations", version_table="character_alembic_version"
)


class CharacterReferenceService(DatabaseService):
    """The character service on one database (a
    :class:`gateway_core.service_host.ReferenceService`)."""

    def __init__(
        self,
        url: str,
        options: CharacterOptions | None = None,
        *,
        clock: Callable[[], float] = time.time,
        content: ContentPack | None = None,
    ) -> None:
        """``content`` is the pack new characters are made from; ``None``: the one
        ``options.content`` names (raises :class:`gateway_core.api.ContentError` when it does not
        load)."""
        super().__init__(url, Base.metadata, MIGRATIONS)
        self.options = options or CharacterOptions()
        self.content = load_content(self.options.content) if content is None else content
        self.servicer = CharacterServicer(
            self.sessionmaker, self.options, clock=clock, content=self.content
        )

    @classmethod
    def from_config(cls, config: ServiceConfig) -> CharacterReferenceService:
        """Build from the core's service config: CHARACTER_DATABASE_URL if set, else the
        config's URL (DATABASE_URL or DATA_DIR/character.sqlite3)."""
        settings = config.settings
        url = database_url(config, "CHARACTER_DATABASE_URL")
        return cls(url, CharacterOptions.from_settings(settings))

    def add_to_server(self, server: grpc.aio.Server) -> None:
        """Register the Character servicer on ``server``."""
        character_pb2_grpc.add_CharacterServicer_to_server(self.servicer, server)
