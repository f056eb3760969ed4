"""Async engine and session factory (asyncpg)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.util import await_

_FRESH = "classy_sync_fresh"


def normalize_database_url(url: str) -> str:
    """Accept `postgres://` and `postgresql://` URLs as well, always driving them with asyncpg."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    statement_timeout: float | None = None,
    connect_timeout: float = 10.0,
    pool_timeout: float = 30.0,
    name: str = "classy-sync",
) -> AsyncEngine:
    """An engine that survives a restarted database (pre-ping) and keeps timestamps in UTC.

    Pre-ping is one round trip (`_ping_on_checkout`), not SQLAlchemy's three for asyncpg (BEGIN, the
    ping, ROLLBACK): under an import each round trip waits for a busy event loop and a busy core, and
    the three were most of a short API request's time (bench/HISTORY.md, round four).
    `statement_timeout` bounds every statement on the server (the API's pool: a request never waits
    long on a slow database); `connect_timeout` and `pool_timeout` bound waiting for a connection, so a
    database that is away makes callers fail fast instead of hanging. `hide_parameters`: a statement's
    parameters (a page of donor JSON) never appear in an error's message, so no traceback logs them.
    """
    server_settings = {"timezone": "UTC", "application_name": name}
    if statement_timeout is not None:
        server_settings["statement_timeout"] = str(max(1, int(statement_timeout * 1000)))
    engine = create_async_engine(
        normalize_database_url(url),
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=pool_timeout,
        connect_args={"server_settings": server_settings, "timeout": connect_timeout},
    )
    event.listen(engine.sync_engine.pool, "connect", _mark_fresh)
    event.listen(engine.sync_engine.pool, "checkout", _ping_on_checkout)
    return engine


def _mark_fresh(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info[_FRESH] = True


def _ping_on_checkout(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
    """What `pool_pre_ping` does, in one round trip: a pooled connection that no longer answers (the
    database restarted) is replaced before the caller sees it, and the pool's older connections with it.
    A connection just opened is not pinged."""
    if record.info.pop(_FRESH, False):
        return
    try:
        await_(dbapi_connection.driver_connection.fetchrow(";"))
    except Exception as exc:  # asyncpg's or the socket's error: this connection is gone
        raise InvalidatePoolError(f"pre-ping failed: {type(exc).__name__}") from exc


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded attributes after commit (we return them in responses)."""
    return async_sessionmaker(engine, expire_on_commit=False)
