"""The auth schema is its Alembic revisions: on SQLite and PostgreSQL alike they build exactly
the tables the models describe, a second start changes nothing, and the version is kept in the
service's own table (services sharing one database never see each other's revisions)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from gateway_auth.service import MIGRATIONS, AuthReferenceService
from gateway_auth.service.db import Base
from gateway_character.service import CharacterReferenceService
from sqlalchemy.ext.asyncio import create_async_engine

from gateway_core.testing import query


def _differences(connection: object) -> list[object]:
    context = MigrationContext.configure(
        connection,  # type: ignore[arg-type]
        opts={"version_table": MIGRATIONS.version_table},
    )
    return list(compare_metadata(context, Base.metadata))


@pytest.mark.anyio
async def test_the_revisions_build_exactly_the_models_tables(
    database: Callable[[str], str],
) -> None:
    service = AuthReferenceService(database("auth"))
    await service.start()
    try:
        assert service.engine is not None
        async with service.engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await service.stop()


@pytest.mark.anyio
async def test_a_second_start_finds_the_schema_current(database: Callable[[str], str]) -> None:
    url = database("auth")
    for _ in range(2):
        service = AuthReferenceService(url)
        await service.start()
        assert service.engine is not None
        async with service.engine.connect() as connection:
            rows = await connection.exec_driver_sql(
                f"SELECT version_num FROM {MIGRATIONS.version_table}"
            )
            assert rows.fetchall() == [("0002",)]
        await service.stop()


@pytest.mark.anyio
async def test_two_services_keep_their_versions_apart_in_one_database(
    database: Callable[[str], str],
) -> None:
    url = database("shared")
    auth, character = AuthReferenceService(url), CharacterReferenceService(url)
    await auth.start()
    await character.start()
    try:
        assert auth.engine is not None
        async with auth.engine.connect() as connection:
            for table, head in (("auth_alembic_version", "0002"),
                                ("character_alembic_version", "0002")):
                rows = await connection.exec_driver_sql(f"SELECT version_num FROM {table}")
                assert rows.fetchall() == [(head,)]
    finally:
        await character.stop()
        await auth.stop()


def test_gateway_service_migrate_applies_the_revisions_and_exits(
    database: Callable[[str], str], tmp_path: Path
) -> None:
    url = database("auth")
    env = {**os.environ, "AUTH_DATABASE_URL": url, "DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "gateway_core", "service", "auth", "--migrate"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "service auth: database migrated to the newest revision" in result.stdout

    async def version() -> list[tuple[object, ...]]:
        engine = create_async_engine(url)
        try:
            return await query(engine, f"SELECT version_num FROM {MIGRATIONS.version_table}")
        finally:
            await engine.dispose()

    assert anyio.run(version) == [("0002",)]


@pytest.mark.anyio
async def test_a_database_at_the_first_revision_gets_the_world_carrier_and_keeps_its_sessions(
    database: Callable[[str], str],
) -> None:
    url = database("auth")
    service = AuthReferenceService(url)
    await service.start()
    assert service.engine is not None
    async with service.engine.begin() as connection:  # make it what revision 0001 built
        await connection.exec_driver_sql(
            "INSERT INTO auth_accounts (id, username, username_key, password_hash, "
            "access_level, banned, created_at, last_login_at) "
            "VALUES (1, 'alice', 'alice', 'x', 1, false, 0, 0)")
        await connection.exec_driver_sql(
            "INSERT INTO auth_sessions (id, account_id, phase, world_id, channel_id, "
            "character_id, character_name, created_at, expires_at, password_binding) "
            "VALUES (77, 1, 2, 1, 1, 3, 'Alice', 0, 9e12, '')")
        await connection.exec_driver_sql("ALTER TABLE auth_sessions DROP COLUMN world_carrier")
        await connection.exec_driver_sql(
            f"UPDATE {MIGRATIONS.version_table} SET version_num = '0001'")
    await service.stop()
    upgraded = AuthReferenceService(url)
    await upgraded.start()
    try:
        assert upgraded.engine is not None
        rows = await query(upgraded.engine, "SELECT id, world_carrier FROM auth_sessions")
        assert rows == [(77, "")]
        async with upgraded.engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await upgraded.stop()
