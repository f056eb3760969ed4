"""The migration chain: upgrade → downgrade → upgrade on a real database, and models match it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from app.db.base import Base
from app.db.migrate import alembic_config
from app.db.session import create_engine
from tests.db_server import choose_server, drop_database, recreate_database


@pytest.fixture(scope="module")
def scratch_url() -> Iterator[str]:
    server_url, dedicated = choose_server()
    if dedicated:
        pytest.skip("TEST_DATABASE_URL names one database; the round trip needs a scratch database")
    name = f"classy_sync_migrations_check_{os.getpid()}"
    url = asyncio.run(recreate_database(server_url, name))
    yield url
    asyncio.run(drop_database(server_url, name))


def _tables(url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.connect() as connection:
                return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _drift(url: str) -> list[object]:
    async def read() -> list[object]:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.connect() as connection:

                def compare(sync_connection: Connection) -> list[object]:
                    context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
                    return list(compare_metadata(context, Base.metadata))

                return await connection.run_sync(compare)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_upgrade_downgrade_upgrade_round_trips(scratch_url: str) -> None:
    config = alembic_config(scratch_url)
    command.upgrade(config, "head")
    assert set(Base.metadata.tables) <= _tables(scratch_url)
    command.downgrade(config, "base")
    assert _tables(scratch_url) <= {"alembic_version"}
    command.upgrade(config, "head")
    assert set(Base.metadata.tables) <= _tables(scratch_url)


def test_models_match_the_migrations(scratch_url: str) -> None:
    command.upgrade(alembic_config(scratch_url), "head")
    assert _drift(scratch_url) == []
