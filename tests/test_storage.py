"""The reference services' storage (gateway_core.storage) on real SQLite files."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import grpc
import pytest
from sqlalchemy import ForeignKey, Integer, String, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gateway_core.config import load_settings
from gateway_core.service_host import ReferenceService, ServiceConfig
from gateway_core.storage import DatabaseService, database_url, open_engine, sqlite_url


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Base(DeclarativeBase):
    pass


class ParentRow(Base):
    __tablename__ = "demo_parents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(16))


class ChildRow(Base):
    __tablename__ = "demo_children"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("demo_parents.id"))


class DemoService(DatabaseService):
    """The smallest database-backed reference service."""

    def __init__(self, url: str) -> None:
        super().__init__(url, Base.metadata)
        self.added_to: list[Any] = []

    def add_to_server(self, server: grpc.aio.Server) -> None:
        self.added_to.append(server)


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[DemoService]:
    demo = DemoService(sqlite_url(tmp_path / "demo.sqlite3"))
    await demo.start()
    try:
        yield demo
    finally:
        await demo.stop()


def _config(tmp_path: Path, database_url: str = "", **settings: object) -> ServiceConfig:
    return ServiceConfig("demo", tmp_path / "data", database_url, SimpleNamespace(
        get=lambda name, default=None: settings.get(name, default)))  # type: ignore[arg-type]


def test_database_url_prefers_the_services_own_setting_then_the_shared_one(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path, "sqlite+aiosqlite:///shared", DEMO_DATABASE_URL="sqlite://own")
    assert database_url(config, "DEMO_DATABASE_URL") == "sqlite://own"
    assert database_url(_config(tmp_path, "sqlite+aiosqlite:///shared"), "DEMO_DATABASE_URL") == (
        "sqlite+aiosqlite:///shared"
    )


def test_database_url_defaults_to_a_sqlite_file_per_service_under_the_data_dir(
    tmp_path: Path,
) -> None:
    url = database_url(_config(tmp_path), "DEMO_DATABASE_URL")
    assert url == f"sqlite+aiosqlite:///{(tmp_path / 'data' / 'demo.sqlite3').resolve()}"
    assert (tmp_path / "data").is_dir()
    # The core's service config gives the same file when DATABASE_URL is unset.
    settings = load_settings({"DATA_DIR": str(tmp_path / "data")}, environ={})
    assert database_url(ServiceConfig.from_settings("demo", settings), "DEMO_DATABASE_URL") == url


def test_a_database_service_is_a_reference_service(tmp_path: Path) -> None:
    assert isinstance(DemoService(sqlite_url(tmp_path / "x.sqlite3")), ReferenceService)


@pytest.mark.anyio
async def test_start_creates_the_schema_and_binds_the_session_factory(
    service: DemoService, tmp_path: Path
) -> None:
    assert (tmp_path / "demo.sqlite3").is_file()
    async with service.sessionmaker() as db, db.begin():
        db.add(ParentRow(id=1, name="p"))
    async with service.sessionmaker() as db:
        assert (await db.execute(select(ParentRow.name))).scalars().all() == ["p"]


@pytest.mark.anyio
async def test_sqlite_runs_in_wal_mode_with_full_sync_and_foreign_keys(
    service: DemoService,
) -> None:
    async with service.sessionmaker() as db:
        pragmas = [
            (await db.execute(text(f"PRAGMA {name}"))).scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        ]
    assert pragmas == ["wal", 2, 1, 5000]  # synchronous 2 = FULL
    with pytest.raises(IntegrityError):
        async with service.sessionmaker() as db, db.begin():
            db.add(ChildRow(id=1, parent_id=99))


@pytest.mark.anyio
async def test_data_survives_a_restart_and_stop_closes_the_engine(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "demo.sqlite3")
    first = DemoService(url)
    await first.start()
    async with first.sessionmaker() as db, db.begin():
        db.add(ParentRow(id=7, name="kept"))
    await first.stop()
    assert first.engine is None
    await first.stop()  # a second stop is harmless
    engine = await open_engine(url, Base.metadata)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(select(ParentRow.name))).scalars().all() == ["kept"]
    finally:
        await engine.dispose()


@pytest.mark.anyio
async def test_a_sqlite_connection_stopped_and_then_closed_closes(tmp_path: Path) -> None:
    """What SQLAlchemy does when the task invalidating a connection is cancelled: it stops the
    connection while the graceful close it shielded goes on. aiosqlite's own connection then
    waits forever in that close, and the event loop's shutdown with it."""
    engine = await open_engine(sqlite_url(tmp_path / "demo.sqlite3"), Base.metadata)
    try:
        async with engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            closing = asyncio.create_task(driver.close())
            await asyncio.sleep(0)  # the close has queued its work for the worker thread
            driver.stop()
            with anyio.fail_after(10):
                await closing
            await conn.invalidate()
        async with engine.connect() as conn:  # the pool opens a new one
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await engine.dispose()
