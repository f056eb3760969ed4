"""The OAuth callback redirects even on an unexpected error; used and expired states are purged."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db.base import utc_now
from app.settings import Settings
from app.sync.housekeeping import Housekeeping
from sandbox.server import SandboxHandle
from tests.conftest import bearer, make_settings, running_app
from tests.integration.api.test_lifecycle_authorization_code import (
    FRONT,
    _callback,
    _login,
    _start,
    ac,  # noqa: F401  (fixture)
    ac_settings,  # noqa: F401  (fixture)
)


@pytest.fixture
async def failing_state_updates(db: AsyncEngine) -> AsyncIterator[None]:
    """A database that fails every update of an OAuth state (a real error from Postgres)."""
    async with db.begin() as connection:
        await connection.execute(
            text(
                "CREATE FUNCTION test_fail_state_update() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'forced failure for the test'; END $$"
            )
        )
        await connection.execute(
            text(
                "CREATE TRIGGER test_fail_state_update BEFORE UPDATE ON oauth_state "
                "FOR EACH ROW EXECUTE FUNCTION test_fail_state_update()"
            )
        )
    try:
        yield
    finally:
        async with db.begin() as connection:
            await connection.execute(text("DROP TRIGGER test_fail_state_update ON oauth_state"))
            await connection.execute(text("DROP FUNCTION test_fail_state_update()"))


async def test_an_unexpected_error_still_redirects(
    ac: httpx.AsyncClient,  # noqa: F811
    sandbox: SandboxHandle,
    failing_state_updates: None,
) -> None:
    started = await _start(ac, sandbox)
    params = _login(started["authorize_url"])
    assert await _callback(ac, params) == f"{FRONT}?error=server_error"
    body = (await ac.get("/api/v1/apps/classy", headers=bearer())).json()
    assert body["status"] == "awaiting_authorization", "nothing changed"


async def _add_state(
    session: AsyncSession, integration_id: int, name: str, *, used_ago: float | None, expires_in: float
) -> None:
    now = utc_now()
    await session.execute(
        text(
            "INSERT INTO oauth_state (state_hash, integration_id, account, user_sub, lifecycle_action,"
            " expires_at, used_at, created_at) VALUES (:h, :i, 'acme', 'alice', 'save', :e, :u, now())"
        ),
        {
            "h": hashlib.sha256(name.encode()).hexdigest(),
            "i": integration_id,
            "e": now + timedelta(seconds=expires_in),
            "u": None if used_ago is None else now - timedelta(seconds=used_ago),
        },
    )


async def _seed_states(client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    assert (await client.post("/api/v1/apps/classy/connect", headers=bearer())).status_code == 200
    async with sessionmaker() as session, session.begin():
        integration_id = (await session.execute(text("SELECT id FROM integration"))).scalar_one()
        await _add_state(session, integration_id, "pending", used_ago=None, expires_in=600)
        await _add_state(session, integration_id, "used-just-now", used_ago=60, expires_in=540)
        await _add_state(session, integration_id, "used-long-ago", used_ago=7200, expires_in=-6600)
        await _add_state(session, integration_id, "expired-long-ago", used_ago=None, expires_in=-7200)


async def _remaining(sessionmaker: async_sessionmaker[AsyncSession]) -> set[str]:
    names = {
        hashlib.sha256(n.encode()).hexdigest(): n
        for n in ("pending", "used-just-now", "used-long-ago", "expired-long-ago")
    }
    async with sessionmaker() as session:
        hashes = (await session.execute(text("SELECT state_hash FROM oauth_state"))).scalars().all()
    return {names[h] for h in hashes}


async def test_housekeeping_purges_used_and_expired_states(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _seed_states(client, sessionmaker)
    assert await Housekeeping(sessionmaker).run_once() == 2
    # A late or repeated callback still gets its precise code for an hour.
    assert await _remaining(sessionmaker) == {"pending", "used-just-now"}


async def test_the_scheduler_runs_the_purge(
    client: httpx.AsyncClient, database_url: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _seed_states(client, sessionmaker)
    settings: Settings = make_settings(database_url, SCHEDULER_ENABLED=True, SCHEDULER_TICK_SECONDS=0.1)
    async with running_app(settings):
        deadline = time.monotonic() + 15
        while await _remaining(sessionmaker) != {"pending", "used-just-now"}:
            assert time.monotonic() < deadline, "the scheduler never purged the states"
            await asyncio.sleep(0.1)
