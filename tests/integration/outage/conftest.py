"""Crash tests run on throwaway Postgres clusters of their own (never the shared server).

Two clusters per session, each migrated once into a template database that every test copies:
`durable` has Postgres's default durability; `lossy` has `synchronous_commit = off` server-wide, so a
crash really loses the last acknowledged commits (as a failover to a lagging replica would). Both hold
WAL back for up to 10 s (`wal_writer_delay`), which makes such a loss certain rather than a race.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db.migrate import upgrade_to_head
from app.db.session import create_engine, create_sessionmaker
from sandbox.generate import Sizes
from sandbox.server import SandboxHandle, run_sandbox
from sandbox.store import SandboxConfig
from tests.db_server import asyncpg_dsn
from tests.integration.outage.cluster import ThrowawayCluster, available

pytestmark = pytest.mark.skipif(not available(), reason="needs initdb/pg_ctl (/usr/lib/postgresql/15/bin)")

TEMPLATE = "crash_template"
_numbers = itertools.count(1)
# Small, so each crash test takes seconds: 3 supporter pages, 5 transaction pages.
SIZES = Sizes(supporters=250, transactions=480, registrations=40, campaigns=2, plans=8)


def _cluster(**settings: str) -> Iterator[ThrowawayCluster]:
    cluster = ThrowawayCluster(wal_writer_delay="10s", wal_writer_flush_after="1GB", **settings).init()
    try:
        cluster.start()
        asyncio.run(_create(cluster.url(), TEMPLATE))
        upgrade_to_head(cluster.url(TEMPLATE))
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
def durable_cluster() -> Iterator[ThrowawayCluster]:
    yield from _cluster()


@pytest.fixture(scope="session")
def lossy_cluster() -> Iterator[ThrowawayCluster]:
    yield from _cluster(synchronous_commit="off")


async def _create(server_url: str, name: str, template: str | None = None) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        suffix = f' TEMPLATE "{template}"' if template else ""
        await connection.execute(f'CREATE DATABASE "{name}"{suffix}')
    finally:
        await connection.close()


async def fresh_database(cluster: ThrowawayCluster) -> str:
    """A migrated, empty database on `cluster` (a copy of the template); its URL."""
    if not cluster.running():
        await asyncio.to_thread(cluster.start)
    name = f"crash_{next(_numbers)}"
    await _create(cluster.url(), name, TEMPLATE)
    return cluster.url(name)


@pytest.fixture
def small_sandbox() -> Iterator[SandboxHandle]:
    with run_sandbox(SandboxConfig(seed=11, organizations=1, sizes=SIZES, rate_limit=0)) as handle:
        yield handle


class Checker:
    """A session on a crash test's database, for comparing it with the sandbox afterwards."""

    def __init__(self, url: str) -> None:
        self.engine: AsyncEngine = create_engine(url, pool_size=1)
        self.sessionmaker: async_sessionmaker[AsyncSession] = create_sessionmaker(self.engine)


@pytest.fixture
async def checkers() -> AsyncIterator[list[Checker]]:
    made: list[Checker] = []
    yield made
    for checker in made:
        await checker.engine.dispose()
