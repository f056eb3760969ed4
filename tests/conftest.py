"""Test harness: a real Postgres, migrated once per session; tables emptied after each test.

Tests commit for real (the sync engine and scheduler use their own sessions and even subprocesses),
so isolation is by truncating every table after a test that used the database, not by rollback.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db.base import Base
from app.db.migrate import upgrade_to_head
from app.db.session import create_engine, create_sessionmaker
from app.main import create_app
from app.security.tokens import issue_token
from app.settings import Settings
from tests.db_server import choose_server, drop_database, recreate_database, reset_schema

JWT_SECRET = "test-jwt-secret-with-enough-length-0123456789"
ENCRYPTION_KEYS = "k2:" + base64.b64encode(b"k" * 32).decode() + ",k1:" + base64.b64encode(b"j" * 32).decode()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A migrated database for this test session (worker-specific when running in parallel)."""
    server_url, dedicated = choose_server()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    # A database of its own per test session, so concurrent runs on one server never collide.
    name = f"classy_sync_test_{worker}_{os.getpid()}"
    if dedicated:
        asyncio.run(reset_schema(server_url))
        url = server_url
    else:
        url = asyncio.run(recreate_database(server_url, name))
    upgrade_to_head(url)
    os.environ["CLASSY_SYNC_TEST_DATABASE_URL"] = url
    yield url
    if not dedicated:
        asyncio.run(drop_database(server_url, name))


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


async def truncate_all(engine: AsyncEngine) -> None:
    names = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """Use the database in a test; everything it wrote is removed afterwards."""
    yield engine
    await truncate_all(engine)


@pytest.fixture
async def session(
    db: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        yield session


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "JWT_SECRET": JWT_SECRET,
        "ENCRYPTION_KEYS": ENCRYPTION_KEYS,
        "SCHEDULER_ENABLED": False,
        "PUBLIC_URL": "http://testserver",
        "LOG_LEVEL": os.environ.get("TEST_LOG_LEVEL", "WARNING"),
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The service with its lifespan running, and an HTTP client talking to it in-process."""
    app = create_app(settings, migrate=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app, client


@pytest.fixture
async def client(db: AsyncEngine, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(settings) as (_, client):
        yield client


def bearer(
    account: str = "acme", user: str = "alice", role: str = "admin", name: str | None = None
) -> dict[str, str]:
    """Authorization header for a caller."""
    token = issue_token(JWT_SECRET, sub=user, account=account, role=role, name=name)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


@contextlib.contextmanager
def service_in_thread(database_url: str, *, name: str, **overrides: Any) -> Iterator[str]:
    """The service under uvicorn in a thread on a free loopback port; yields its base URL.

    `overrides` are settings (PUBLIC_URL is this server's own URL); stopped within 15 s afterwards.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = make_settings(database_url, PUBLIC_URL=base, **overrides)
    config = uvicorn.Config(
        create_app(settings, migrate=False),
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the service did not start within 30 s")
            time.sleep(0.05)
        yield base
    finally:
        server.should_exit = True
        thread.join(10)
        if thread.is_alive():
            server.force_exit = True
            thread.join(5)
        sock.close()
