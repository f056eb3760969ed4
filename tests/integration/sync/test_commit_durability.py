"""`SYNC_DURABLE_COMMITS` decides whether page and merge transactions wait for the WAL flush (issue #17).

Asynchronous commits (the default) are guarded by the commit ledger; the bench's `durability` scenario
compares both, so the switch must really reach Postgres: read `synchronous_commit` inside the very
transactions the engine opens.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.sync import engine
from sandbox.server import SandboxHandle
from tests.integration.sync.helpers import connect, service, sync_settings, wait_for_run


@pytest.mark.parametrize(("durable", "expected"), [(False, "off"), (True, "on")])
async def test_page_transactions_use_the_chosen_commit_mode(
    db: AsyncEngine,
    database_url: str,
    sandbox: SandboxHandle,
    monkeypatch: pytest.MonkeyPatch,
    durable: bool,
    expected: str,
) -> None:
    seen: dict[str, set[str]] = {"page": set(), "merge": set()}
    upsert_page, merge = engine.upsert_page, engine.merge_queued_contacts

    async def _show(session: AsyncSession, kind: str) -> None:
        seen[kind].add(str((await session.execute(text("SHOW synchronous_commit"))).scalar_one()))

    async def spy_upsert(session: AsyncSession, *args: Any, **kwargs: Any) -> Any:
        await _show(session, "page")
        return await upsert_page(session, *args, **kwargs)

    async def spy_merge(session: AsyncSession, *args: Any, **kwargs: Any) -> Any:
        await _show(session, "merge")
        return await merge(session, *args, **kwargs)

    monkeypatch.setattr(engine, "upsert_page", spy_upsert)
    monkeypatch.setattr(engine, "merge_queued_contacts", spy_merge)
    settings = sync_settings(database_url, sandbox, SYNC_DURABLE_COMMITS=durable)
    async with service(settings) as client:
        await connect(client, sandbox, sandbox.organization_ids[0])
        run = await wait_for_run(client)
    assert run["status"] == "succeeded", (run["error"], run)
    assert seen == {"page": {expected}, "merge": {expected}}
