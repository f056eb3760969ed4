"""The pools' pre-ping (app/db/session.py): one round trip per checkout, and a dead connection is replaced."""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy import event, text

from app.db.session import create_engine


def _log_queries(engine: Any) -> list[str]:
    """Every statement the engine's connections send, in order (asyncpg's query logger)."""
    queries: list[str] = []

    def attach(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(lambda record: queries.append(record.query))

    event.listen(engine.sync_engine.pool, "connect", attach)
    return queries


async def test_a_pooled_connection_is_pinged_once_per_checkout(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1)
    queries = _log_queries(engine)
    try:
        async with engine.connect() as connection:  # fresh: not pinged
            await connection.execute(text("SELECT 1"))
        first = len(queries)
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 2"))
        again = queries[first:]
    finally:
        await engine.dispose()
    # (The logger sees simple-protocol statements: the ping and the transaction's own BEGIN and
    # ROLLBACK, not the prepared SELECTs.) A fresh connection is not pinged.
    assert queries[:first] == ["BEGIN;", "ROLLBACK;"]
    # One ping, not SQLAlchemy's BEGIN / ; / ROLLBACK for asyncpg: two round trips fewer per checkout.
    assert again == [";", "BEGIN;", "ROLLBACK;"]


async def test_a_connection_whose_server_process_ended_is_replaced_at_checkout(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        admin = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()
        async with engine.connect() as connection:  # no error: the ping finds it gone, a new one serves
            new_pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    finally:
        await engine.dispose()
    assert new_pid != pid
