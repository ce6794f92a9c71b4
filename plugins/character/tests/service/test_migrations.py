"""The character schema is its Alembic revisions: on SQLite and PostgreSQL alike they build
exactly the table the model describes, and a database made before the revisions existed (the
table created from the model) is adopted with its rows."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from gateway_character.service import MIGRATIONS, CharacterReferenceService
from gateway_character.service.db import Base, CharacterRow
from sqlalchemy.ext.asyncio import create_async_engine

from gateway_core.testing import query

pytestmark = pytest.mark.anyio


def _differences(connection: object) -> list[object]:
    context = MigrationContext.configure(
        connection,  # type: ignore[arg-type]
        opts={"version_table": MIGRATIONS.version_table},
    )
    return list(compare_metadata(context, Base.metadata))


async def test_the_revisions_build_exactly_the_models_table(
    database: Callable[[str], str],
) -> None:
    service = CharacterReferenceService(database("character"))
    await service.start()
    try:
        assert service.engine is not None
        async with service.engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await service.stop()


async def test_a_database_from_before_the_revisions_is_adopted_with_its_rows(
    database: Callable[[str], str],
) -> None:
    url = database("character")
    legacy = create_async_engine(url)
    async with legacy.begin() as connection:  # what earlier releases made: the model's table
        await connection.run_sync(
            lambda sync: Base.metadata.create_all(sync, tables=[CharacterRow.__table__])
        )
        await connection.exec_driver_sql(
            "INSERT INTO character_characters (account_id, name, name_key, race, stone, face, "
            "hair, level, job, str, dex, int, con, charm, sense, hp, mp, xp, stat_points, "
            "skill_points, penalty_xp, stamina, money, map_id, x, y, spawn, inventory, hotbar, "
            "skills, created_at) VALUES (7, 'Old', 'old', 0, 0, 0, 0, 9, 0, 1, 1, 1, 1, 1, 1, "
            "50, 40, 0, 0, 0, 0, 0, 123, 1, 5.0, 6.0, 0, '[]', '[]', '[]', 1.0)"
        )
    await legacy.dispose()
    service = CharacterReferenceService(url)
    await service.start()
    try:
        assert await query(service.engine, "SELECT name, level, money FROM "
                                           "character_characters") == [("Old", 9, 123)]
        version = await query(service.engine,
                              f"SELECT version_num FROM {MIGRATIONS.version_table}")
        assert version == [("0002",)]  # 0001 adopted the table, 0002 added the item tables
    finally:
        await service.stop()
