"""How a stream's pages reach Postgres: grouped when the writer falls behind, and never held up by merges.

A writer that is busy while its reader goes on finds several pages waiting: it writes them in one
transaction, which commits the checkpoint of the last page with exactly the rows of all of them. A
contact merge made due by the pages runs beside the stream, which goes on reading and writing.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.classy import RateLimiter
from app.db.models import Donation
from app.db.repositories import sync_state
from app.sync import engine
from app.sync.beside import BesideJob
from app.sync.engine import GROUP_PAGES, PER_PAGE, IntegrationSync
from sandbox.generate import Sizes
from sandbox.server import SandboxHandle, run_sandbox
from sandbox.store import SandboxConfig
from tests.integration.sync.helpers import (
    assert_matches_sandbox,
    connect,
    service,
    sync_settings,
    wait_for_run,
)

SIZES = Sizes(supporters=300, transactions=2000, registrations=100, campaigns=3, plans=10)


@pytest.fixture
def larger_sandbox() -> Any:
    with run_sandbox(SandboxConfig(seed=5, organizations=1, sizes=SIZES, rate_limit=0)) as handle:
        yield handle


async def test_pages_waiting_for_a_busy_writer_commit_together_with_the_last_checkpoint(
    db: AsyncEngine,
    session: AsyncSession,
    database_url: str,
    larger_sandbox: SandboxHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = IntegrationSync._write_page
    written: set[int] = set()
    commits: list[tuple[int, int, bool]] = []  # records written, rows stored after, cursor == checkpoint

    async def write_page(self: IntegrationSync, stream: Any, records: Any, batch: Any, **kw: Any) -> Any:
        if stream.name != "transactions":
            return await real(self, stream, records, batch, **kw)
        if batch is not None and not commits:
            await asyncio.sleep(1.0)  # a slow first write: the reader fetches the next pages meanwhile
        outcome = await real(self, stream, records, batch, **kw)
        written.update(int(r["id"]) for r in records)
        async with self.ctx.sessionmaker() as check:
            rows = await check.scalar(select(func.count()).select_from(Donation))
            cursor = await sync_state.get_cursor(
                check,
                integration_id=self.integration_id,
                organization_id=self.organization_id,
                stream=stream.name,
            )
        stored = sync_state.checkpoint_of(cursor)
        same = batch is None or (
            (stored.position_ts, stored.position_id, stored.block_page)
            == (batch.checkpoint.position_ts, batch.checkpoint.position_id, batch.checkpoint.block_page)
        )
        commits.append((len(records), int(rows or 0), same))
        # The transaction committed exactly the rows read so far, with the position after them.
        assert rows == len(written)
        return outcome

    monkeypatch.setattr(IntegrationSync, "_write_page", write_page)
    org = larger_sandbox.organization_ids[0]
    async with service(sync_settings(database_url, larger_sandbox)) as client:
        await connect(client, larger_sandbox, org)
        run = await wait_for_run(client)
    assert run["status"] == "succeeded", (run["error"], run)
    assert all(same for _, _, same in commits), commits
    grouped = [n for n, _, _ in commits if n > PER_PAGE]
    assert grouped, commits  # pages fetched during the slow write went in as one transaction
    assert max(grouped) <= GROUP_PAGES * PER_PAGE
    assert run["streams"]["transactions"]["inserted"] == SIZES.transactions
    await assert_matches_sandbox(session, larger_sandbox, org)


async def test_a_stream_goes_on_writing_pages_while_a_contact_merge_runs(
    db: AsyncEngine,
    session: AsyncSession,
    database_url: str,
    larger_sandbox: SandboxHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "MERGE_EVERY_PAGES", 2)
    real_write, real_merge = IntegrationSync._write_page, engine.merge_queued_contacts
    transactions_written = 0
    during_merge: list[int] = []

    async def write_page(self: IntegrationSync, stream: Any, records: Any, batch: Any, **kw: Any) -> Any:
        nonlocal transactions_written
        outcome = await real_write(self, stream, records, batch, **kw)
        if stream.name == "transactions":
            transactions_written += len(records)
        return outcome

    async def merge(session: AsyncSession, **kw: Any) -> Any:
        if not during_merge:  # the first merge is slow: it lasts until 3 more pages are written
            start = transactions_written
            deadline = time.monotonic() + 10
            while transactions_written < start + 3 * PER_PAGE and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            during_merge.append(transactions_written - start)
        return await real_merge(session, **kw)

    monkeypatch.setattr(IntegrationSync, "_write_page", write_page)
    monkeypatch.setattr(engine, "merge_queued_contacts", merge)
    org = larger_sandbox.organization_ids[0]
    async with service(sync_settings(database_url, larger_sandbox)) as client:
        await connect(client, larger_sandbox, org)
        run = await wait_for_run(client)
    assert run["status"] == "succeeded", (run["error"], run)
    assert during_merge and during_merge[0] >= 3 * PER_PAGE, during_merge
    await assert_matches_sandbox(session, larger_sandbox, org)


async def test_the_last_stream_reading_under_a_rate_limit_asks_for_a_merge_after_every_page(
    db: AsyncEngine,
    session: AsyncSession,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The limiter says Classy's limit sets the pace; the other lists are one page each and end first.
    monkeypatch.setattr(RateLimiter, "pacing", property(lambda self: True))
    real_commit, real_request = IntegrationSync._commit, BesideJob.request
    merges_asked = 0
    pages_alone = 0

    def request(self: BesideJob) -> None:
        nonlocal merges_asked
        merges_asked += repr(self).startswith("BesideJob(contact-merge")
        real_request(self)

    async def commit(self: IntegrationSync, stream: Any, records: Any, batch: Any, **kw: Any) -> None:
        nonlocal pages_alone
        before = merges_asked
        await real_commit(self, stream, records, batch, **kw)
        if stream.name == "transactions" and records and self._reading == {"transactions"}:
            pages_alone += 1
            assert merges_asked == before + 1, "a page of the last stream did not ask for a merge"

    monkeypatch.setattr(BesideJob, "request", request)
    monkeypatch.setattr(IntegrationSync, "_commit", commit)
    sizes = Sizes(supporters=40, transactions=1500, registrations=10, campaigns=2, plans=2)
    with run_sandbox(SandboxConfig(seed=7, organizations=1, sizes=sizes, rate_limit=0)) as small:
        org = small.organization_ids[0]
        async with service(sync_settings(database_url, small)) as client:
            await connect(client, small, org)
            run = await wait_for_run(client)
        assert run["status"] == "succeeded", (run["error"], run)
        assert pages_alone >= 2, pages_alone
        await assert_matches_sandbox(session, small, org)
