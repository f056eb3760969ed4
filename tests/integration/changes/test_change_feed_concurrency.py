"""The change feed under concurrent writers: three tenants syncing at once, plus direct transactions that
commit out of order on purpose, while one reader per tenant polls as fast as it can. Every change is
handed out exactly once, to its own account, and what the feed says matches the tables at the end."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, defaultdict
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db.repositories.classy_columns import CAMPAIGN
from app.db.repositories.records import upsert_page
from sandbox.server import SandboxHandle
from tests.conftest import bearer
from tests.integration.sync.helpers import credentials, service, sync_settings, wait_until

pytestmark = pytest.mark.slow
TENANTS = {"acme": 0, "globex": 1, "initech": 0}  # account → sandbox organization (two share one)
TABLES = ("contact", "donation", "campaign", "recurring_plan", "registration")


async def _connect(client: httpx.AsyncClient, account: str, sandbox: SandboxHandle, org_index: int) -> None:
    admin = bearer(account, "admin", "admin")
    assert (await client.post("/api/v1/apps/classy/connect", headers=admin)).status_code == 200
    body = credentials(sandbox, sandbox.organization_ids[org_index])
    response = await client.put("/api/v1/apps/classy/credentials", headers=admin, json=body)
    assert response.status_code == 200, response.text


async def _staggered_writer(
    sessionmaker: async_sessionmaker[AsyncSession], account: str, writer: int, rounds: int
) -> None:
    """Transactions that write, then hold their changes in flight for a random while before committing."""
    rng = random.Random(f"{account}:{writer}")
    for n in range(rounds):
        async with sessionmaker() as session:
            records = [
                {"id": 9_000_000 + writer * 1000 + n * 10 + k, "name": f"w{writer}-{n}-{k}-{rng.random()}"}
                for k in range(rng.randint(1, 3))
            ]
            await upsert_page(session, CAMPAIGN, account=account, organization_id=1, records=records)
            await asyncio.sleep(rng.uniform(0, 0.15))
            await session.commit()


async def test_every_change_reaches_a_polling_reader_exactly_once_in_its_own_account(
    db: AsyncEngine,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    database_url: str,
    sandbox: SandboxHandle,
) -> None:
    settings = sync_settings(database_url, sandbox, SYNC_CONCURRENCY=3)
    seen: dict[str, list[dict[str, Any]]] = defaultdict(list)
    polls = Counter[str]()
    writing = True

    async def reader(client: httpx.AsyncClient, account: str) -> None:
        headers = bearer(account, "reader", "member")
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 200, **({"after": cursor} if cursor else {})}
            response = await client.get("/api/v1/changes", headers=headers, params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            polls[account] += 1
            seen[account] += page["items"]
            cursor = page["next_cursor"]
            if not writing and not page["items"]:
                return
            await asyncio.sleep(0)

    async with service(settings) as client:
        readers = [asyncio.create_task(reader(client, account)) for account in TENANTS]
        for account, org_index in TENANTS.items():
            await _connect(client, account, sandbox, org_index)
        writers = [
            _staggered_writer(sessionmaker, account, writer, rounds=15)
            for account in ("acme", "globex")
            for writer in range(3)
        ]
        await asyncio.gather(*writers)

        async def synced() -> bool:
            runs = await session.execute(
                text("SELECT count(*) FILTER (WHERE status = 'succeeded'), count(*) FROM sync_run")
            )
            done, total = runs.one()
            await session.rollback()
            return bool(done == total == len(TENANTS))

        await wait_until(synced, timeout=180, interval=0.2)
        # A reader stops at its first empty page now; on a shared server another database's transaction
        # may hold the feed back, so wait until the log holds nothing newer than every committed change.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            logged = await session.scalar(text("SELECT count(*) FROM change_log"))
            await session.rollback()
            if sum(len(items) for items in seen.values()) >= logged:
                break
            await asyncio.sleep(0.1)
        writing = False
        await asyncio.wait_for(asyncio.gather(*readers), timeout=60)

    for account in TENANTS:
        items = seen[account]
        seqs = [item["seq"] for item in items]
        assert len(seqs) == len(set(seqs)), f"{account}: a change was handed out twice"
        logged = set(
            (
                await session.execute(
                    text("SELECT seq FROM change_log WHERE account = :account"), {"account": account}
                )
            ).scalars()
        )
        assert set(seqs) == logged, f"{account}: {len(logged - set(seqs))} changes never handed out"
        assert polls[account] > 20  # it really polled while the writers wrote
        # Scoped: every row named exists in this account (or was deleted there); the final state agrees.
        last: dict[tuple[str, int], str] = {}
        for item in items:
            last[(item["type"], item["id"])] = item["change"]
        for table in TABLES:
            ids = set(
                (
                    await session.execute(
                        text(f"SELECT id FROM {table} WHERE account = :account"), {"account": account}
                    )
                ).scalars()
            )
            upserted = {
                row_id for (kind, row_id), change in last.items() if kind == table and change == "upsert"
            }
            assert upserted == ids, f"{account} {table}: feed and table disagree"
    assert len(seen["acme"]) > 1000 and len(seen["globex"]) > 1000 and len(seen["initech"]) > 1000
