"""Failures around a run, not inside Classy: unloadable credentials, orphaned runs, lease clocks, pools."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db.models import Integration, SyncRun
from app.db.repositories import sync_state
from app.db.repositories.sync_state import INTERRUPTED
from app.sync.sweeper import OrphanSweeper
from sandbox.server import SandboxHandle
from tests.conftest import ENCRYPTION_KEYS, running_app
from tests.integration.sync.helpers import ADMIN, connect, service, sync_settings, wait_for_run


async def test_a_missing_key_id_is_a_failed_run_with_a_sentence_and_backoff(
    db: AsyncEngine, database_url: str, sandbox: SandboxHandle
) -> None:
    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, sandbox.organization_ids[0])
        first = await wait_for_run(client)
        assert first["status"] == "succeeded"
    # The key that encrypted the credentials (the first of ENCRYPTION_KEYS) is removed by a careless deploy.
    without_it = ENCRYPTION_KEYS.split(",", 1)[1]
    settings = sync_settings(database_url, sandbox, ENCRYPTION_KEYS=without_it, SYNC_LEASE_SECONDS=2)
    async with service(settings) as client:
        assert (await client.post("/api/v1/apps/classy/sync", headers=ADMIN)).status_code == 202
        failed = await wait_for_run(client, after_id=first["id"], timeout=30)
        assert failed["status"] == "failed"
        assert "cannot be decrypted" in failed["error"] and "'k2'" in failed["error"]
        body = (await client.get("/api/v1/apps/classy", headers=ADMIN)).json()
        assert (body["status"], body["badge"]) == ("error", "Error")
        assert body["last_error"] == failed["error"]
        assert datetime.fromisoformat(body["next_sync_at"]) >= datetime.fromisoformat(
            failed["finished_at"]
        ) + timedelta(seconds=15)
        # No retry storm: several lease periods later, still that one failed run.
        await asyncio.sleep(5)
        runs = (await client.get("/api/v1/apps/classy/sync-runs", headers=ADMIN)).json()["items"]
        assert [r["id"] for r in runs] == [failed["id"], first["id"]]


async def _integration(session: AsyncSession, account: str, **values: object) -> Integration:
    row = Integration(account=account, status="connected", organization_id=1, **values)
    session.add(row)
    await session.flush()
    return row


async def test_the_sweep_fails_orphaned_running_runs_only(
    session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    now = datetime.now(UTC)
    expired = await _integration(
        session, "a", lease_owner="gone", lease_expires_at=now - timedelta(seconds=5)
    )
    taken = await _integration(session, "b", lease_owner="other", lease_expires_at=now + timedelta(minutes=1))
    alive = await _integration(session, "c", lease_owner="me", lease_expires_at=now + timedelta(minutes=1))
    released = await _integration(session, "d")
    runs = {}
    for row, worker in ((expired, "gone"), (taken, "gone"), (alive, "me"), (released, "me")):
        run = SyncRun(integration_id=row.id, trigger="scheduled", status="running", streams={}, worker=worker)
        session.add(run)
        runs[row.account] = run
    await session.commit()

    swept = await OrphanSweeper(sessionmaker, interval=60).maybe_sweep()
    assert sorted(swept) == sorted(runs[a].id for a in ("a", "b", "d"))
    assert await OrphanSweeper(sessionmaker, interval=60).maybe_sweep() == []
    session.expire_all()
    for account, run in runs.items():
        await session.refresh(run)
        if account == "c":
            assert run.status == "running"
        else:
            assert (run.status, run.error) == ("failed", INTERRUPTED) and run.finished_at is not None


async def test_lease_renewals_use_the_database_clock(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    row = await _integration(session, "acme", lease_owner="me")
    await session.commit()
    # The app's clock is a day off: claims never used it, and renewals no longer do either.
    monkeypatch.setattr(sync_state, "utc_now", lambda: datetime.now(UTC) + timedelta(days=1))
    async with session.begin():
        status = await sync_state.renew_lease(session, integration_id=row.id, worker="me", lease_seconds=30)
        database_now = await session.scalar(text("SELECT now()"))
    assert status == "connected"
    await session.refresh(row)
    assert row.lease_expires_at == database_now + timedelta(seconds=30)


async def test_api_and_sync_have_separate_pools_and_api_statements_are_bounded(
    db: AsyncEngine, database_url: str, sandbox: SandboxHandle
) -> None:
    settings = sync_settings(database_url, sandbox, API_STATEMENT_TIMEOUT_SECONDS=0.5)
    async with running_app(settings) as (app, client):
        runtime = app.state.runtime
        assert runtime.sync_engine is not None and runtime.sync_engine is not runtime.engine
        async with runtime.engine.connect() as connection:
            assert await connection.scalar(text("SHOW statement_timeout")) == "500ms"
        sync_engine = runtime.sync_engine

        async def sync_timeout() -> object:
            async with sync_engine.connect() as connection:
                return await connection.scalar(text("SHOW statement_timeout"))

        # Asked on the scheduler's own loop: the sync's connections belong to it.
        on_its_loop = asyncio.run_coroutine_threadsafe(sync_timeout(), runtime.scheduler.loop)
        assert await asyncio.wrap_future(on_its_loop) == "0"
        await connect(client, sandbox, sandbox.organization_ids[0])
        await wait_for_run(client)
        # A request stuck behind a lock (any slow statement) ends in a JSON 503 instead of waiting.
        async with db.connect() as blocker, blocker.begin():
            await blocker.execute(text("SELECT 1 FROM integration FOR UPDATE"))
            response = await client.post("/api/v1/apps/classy/pause", headers=ADMIN)
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "database_timeout"
        assert (await client.post("/api/v1/apps/classy/pause", headers=ADMIN)).status_code == 200
