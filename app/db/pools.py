"""The process's two connection pools: one for API requests, one for sync work.

With one shared pool a bulk import (five streams writing at once, per integration) could hold every
connection, and API requests queued behind it (p99 several times higher during an import). Apart, the
API always has connections of its own, its statements are bounded by `API_STATEMENT_TIMEOUT_SECONDS`
and it waits at most as long for a connection or a connect: a slow or absent database is a fast 503.
Sync statements are not bounded (a merge of a large import may take a while).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.session import create_engine
from app.settings import Settings

API_POOL_SIZE = 10
# Each running sync writes up to five streams at once, plus a merge and its lease heartbeat.
CONNECTIONS_PER_SYNC = 4


def create_engines(url: str, settings: Settings) -> tuple[AsyncEngine, AsyncEngine]:
    """(API engine, sync engine) for the database at `url`."""
    timeout = settings.api_statement_timeout_seconds
    api = create_engine(
        url,
        pool_size=API_POOL_SIZE,
        statement_timeout=timeout,
        connect_timeout=timeout,
        pool_timeout=timeout,
        name="classy-sync-api",
    )
    sync = create_engine(
        url,
        pool_size=max(4, settings.sync_concurrency * CONNECTIONS_PER_SYNC),
        name="classy-sync-worker",
    )
    return api, sync
