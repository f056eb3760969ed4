"""Which Postgres the test suite uses: TEST_DATABASE_URL, else 127.0.0.1:5432 if it answers, else embedded."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from app.db.embedded import embedded_database_url
from app.db.session import normalize_database_url

PROJECT_ROOT = Path(__file__).resolve().parents[1]
LOCAL_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def asyncpg_dsn(url: str) -> str:
    """SQLAlchemy URL → asyncpg DSN."""
    return normalize_database_url(url).replace("postgresql+asyncpg://", "postgresql://", 1)


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def choose_server() -> tuple[str, bool]:
    """(URL, dedicated): dedicated=True when TEST_DATABASE_URL names the database to use as-is.

    TEST_EMBEDDED_POSTGRES=1 skips the local server, to try the path of a machine without Postgres.
    """
    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        return normalize_database_url(explicit), True
    if _port_open("127.0.0.1", 5432) and not os.environ.get("TEST_EMBEDDED_POSTGRES"):
        try:
            asyncio.run(_ping(LOCAL_SERVER))
            return LOCAL_SERVER, False
        except Exception:
            pass
    return embedded_database_url(PROJECT_ROOT / ".data" / "test"), False


async def _ping(url: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(url), timeout=3)
    await connection.close()


async def recreate_database(server_url: str, database: str) -> str:
    """Drop and create `database` on the server; returns its URL."""
    connection = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{database}"')
    finally:
        await connection.close()
    return with_database(server_url, database)


async def reset_schema(url: str) -> None:
    """Empty a dedicated database (TEST_DATABASE_URL) before migrating it."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()


async def drop_database(server_url: str, database: str) -> None:
    """Remove a test session's database (best effort: a leftover is dropped by name next time)."""
    try:
        connection = await asyncpg.connect(asyncpg_dsn(server_url))
    except (OSError, asyncpg.PostgresError):
        return
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await connection.close()
