"""MIGRATE_ON_START decides whether the service migrates at start-up (the image does it once)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from app.db.session import create_engine
from app.main import create_app
from tests.conftest import make_settings
from tests.db_server import choose_server, drop_database, recreate_database


@pytest.fixture
def empty_database() -> Iterator[str]:
    server_url, dedicated = choose_server()
    if dedicated:
        pytest.skip("TEST_DATABASE_URL names one database; this test needs an empty one of its own")
    name = f"classy_sync_migrate_{os.getpid()}"
    url = asyncio.run(recreate_database(server_url, name))
    yield url
    asyncio.run(drop_database(server_url, name))


async def has_schema(url: str) -> bool:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return bool(await connection.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL")))
    finally:
        await engine.dispose()


async def start_and_stop(url: str, migrate_on_start: bool) -> None:
    app = create_app(make_settings(url, MIGRATE_ON_START=migrate_on_start))
    async with app.router.lifespan_context(app):
        pass


async def test_the_lifespan_migrates_only_when_asked(empty_database: str) -> None:
    await start_and_stop(empty_database, migrate_on_start=False)
    assert not await has_schema(empty_database), "MIGRATE_ON_START=false must leave the schema alone"
    await start_and_stop(empty_database, migrate_on_start=True)
    assert await has_schema(empty_database)


async def test_development_mode_says_so_at_start_up(
    empty_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await start_and_stop(empty_database, migrate_on_start=False)
    err = capsys.readouterr().err
    assert "APP_ENV=test: development mode" in err
