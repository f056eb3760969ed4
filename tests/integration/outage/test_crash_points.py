"""Postgres crashes (an immediate stop, then a start) at chosen points of an import.

Each test runs the service in-process against a throwaway cluster, crashes that cluster from inside
the sync at one point, checks the API while the database is down (fast JSON 503), starts it again,
and then requires: the interrupted run recorded (never left `running`), the API and scheduler working,
and after the next sync the database equal to the sandbox, record for record.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.db.models import SyncRun
from app.db.repositories import sync_state
from app.sync import engine as engine_module
from app.sync.durability import COMMITS_LOST
from app.sync.engine import IntegrationSync
from app.sync.outage import DATABASE_LOST
from app.sync.streams import STREAMS
from sandbox.server import SandboxHandle
from tests.integration.outage.cluster import ThrowawayCluster
from tests.integration.outage.conftest import Checker, fresh_database
from tests.integration.sync.helpers import (
    ADMIN,
    assert_matches_sandbox,
    connect,
    service,
    sync_settings,
    wait_for_run,
    wait_until,
)

pytestmark = pytest.mark.timeout(90)


class Outage:
    """Crashes the cluster when a hook says so; the test looks at the service, then starts it again.

    The hooks run in the sync, on the scheduler's own thread and loop, and the test on its own loop:
    thread events, not asyncio ones, pass the word between them."""

    def __init__(self, cluster: ThrowawayCluster) -> None:
        self.cluster = cluster
        self.down = threading.Event()
        self.back = threading.Event()
        self.fired = False

    async def crash(self, *, until_back: bool = False) -> None:
        self.fired = True
        # Other streams fail as the server goes away and cancel this one: the crash completes anyway.
        crashing = asyncio.ensure_future(asyncio.to_thread(self.cluster.crash))
        crashing.add_done_callback(lambda _: self.down.set())
        await asyncio.shield(crashing)
        if until_back:
            await asyncio.to_thread(self.back.wait, 60)

    async def wait_down(self, seconds: float) -> None:
        assert await asyncio.to_thread(self.down.wait, seconds), "the crash point was never reached"

    async def restart(self) -> None:
        await asyncio.to_thread(self.cluster.start)
        self.back.set()


Hook = Callable[[pytest.MonkeyPatch, Outage], None]


async def crash_during_import(
    cluster: ThrowawayCluster,
    sandbox: SandboxHandle,
    checkers: list[Checker],
    monkeypatch: pytest.MonkeyPatch,
    hook: Hook,
) -> dict[str, Any]:
    """Import with a crash where `hook` puts it; returns the interrupted run once it is recorded."""
    url = await fresh_database(cluster)
    checker = Checker(url)
    checkers.append(checker)
    org = sandbox.organization_ids[0]
    outage = Outage(cluster)
    hook(monkeypatch, outage)
    settings = sync_settings(url, sandbox, SYNC_LEASE_SECONDS=30, API_STATEMENT_TIMEOUT_SECONDS=2)
    async with service(settings) as client:
        await connect(client, sandbox, org)
        await outage.wait_down(60)
        await _answers_503_fast(client)
        await outage.restart()
        first = await wait_for_run(client, timeout=60)
        # The API and the scheduler work again: a sync now brings everything that is missing.
        assert (await client.get("/readyz")).status_code == 200
        await wait_until(lambda: _no_run_running(client), timeout=30)
        response = await client.post("/api/v1/apps/classy/sync", headers=ADMIN)
        assert response.status_code == 202, response.text
        second = await wait_for_run(client, after_id=first["id"], timeout=60)
        assert second["status"] == "succeeded", second
    async with checker.sessionmaker() as session:
        await assert_matches_sandbox(session, sandbox, org)
        running = await session.scalar(
            select(func.count()).select_from(SyncRun).where(SyncRun.status == "running")
        )
        assert running == 0
    return first


async def _answers_503_fast(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/apps/classy", "/api/v1/apps/classy/sync-runs"):
        started = time.monotonic()
        response = await client.get(path, headers=ADMIN)
        assert time.monotonic() - started < 3, f"{path} took too long while the database was down"
        assert response.status_code == 503, response.text
        body = response.json()
        assert body["code"] == "database_unavailable" and body["detail"].endswith(".")
        assert response.headers["Retry-After"]
    readiness = await client.get("/readyz")
    assert readiness.status_code == 503 and readiness.json()["database"] == "unreachable"


async def _no_run_running(client: httpx.AsyncClient) -> bool:
    response = await client.get("/api/v1/apps/classy/sync-runs", headers=ADMIN)
    return response.status_code == 200 and all(r["status"] != "running" for r in response.json()["items"])


def pages_up_to(seen: int, records: list[Any], page: int) -> tuple[bool, int]:
    """Whether a page transaction holds the `page`th page (one may hold several), and the pages so far."""
    written = seen + max(1, -(-len(records) // engine_module.PER_PAGE))
    return seen < page <= written, written


def crash_between_pages(page: int) -> Hook:
    """Crash right after the `page`th transactions page committed; the database is back before the next.

    The other streams finish first, so the crash leaves that one stream to carry on from its position
    in memory: exactly the situation where a commit acknowledged and then lost would be skipped.
    """

    def install(monkeypatch: pytest.MonkeyPatch, outage: Outage) -> None:
        real = IntegrationSync._write_page
        real_stream = IntegrationSync._sync_stream
        finished: set[str] = set()
        seen = 0

        async def sync_stream(self: IntegrationSync, stream: Any) -> None:
            await real_stream(self, stream)
            finished.add(stream.name)

        async def others_finished() -> bool:
            return finished >= {s.name for s in STREAMS if s.name != "transactions"}

        async def write_page(self: IntegrationSync, stream: Any, records: Any, batch: Any, **kw: Any) -> Any:
            nonlocal seen
            hit = False
            if stream.name == "transactions" and batch is not None:
                hit, seen = pages_up_to(seen, records, page)
                if hit:
                    await wait_until(others_finished, timeout=30)
            outcome = await real(self, stream, records, batch, **kw)
            if hit and not outage.fired:
                await outage.crash(until_back=True)
            return outcome

        monkeypatch.setattr(IntegrationSync, "_write_page", write_page)
        monkeypatch.setattr(IntegrationSync, "_sync_stream", sync_stream)

    return install


def crash_mid_page(page: int) -> Hook:
    """Crash inside the `page`th transactions page's transaction: rows written, nothing committed."""

    def install(monkeypatch: pytest.MonkeyPatch, outage: Outage) -> None:
        real = engine_module.upsert_page
        seen = 0

        async def upsert_page(session: Any, mapping: Any, **kw: Any) -> Any:
            nonlocal seen
            outcome = await real(session, mapping, **kw)
            if mapping.table == "donation":
                hit, seen = pages_up_to(seen, kw["records"], page)
                if hit:
                    await outage.crash()
            return outcome

        monkeypatch.setattr(engine_module, "upsert_page", upsert_page)

    return install


def crash_during_merge(monkeypatch: pytest.MonkeyPatch, outage: Outage) -> None:
    """Crash inside the first contact merge's transaction (contacts written, queue emptied, uncommitted)."""
    real = engine_module.merge_queued_contacts

    async def merge(session: Any, **kw: Any) -> Any:
        result = await real(session, **kw)
        if not outage.fired:
            await outage.crash()
        return result

    monkeypatch.setattr(engine_module, "merge_queued_contacts", merge)


def crash_during_bookkeeping(monkeypatch: pytest.MonkeyPatch, outage: Outage) -> None:
    """Crash inside the transaction that records the run's outcome and gives the lease back."""
    real = sync_state.update_run

    async def update_run(session: Any, run_id: int, **values: Any) -> None:
        await real(session, run_id, **values)
        if not outage.fired and values.get("finished_at") is not None:
            await outage.crash()

    monkeypatch.setattr(sync_state, "update_run", update_run)


async def test_crash_mid_page_fails_the_run_and_the_next_run_completes(
    durable_cluster: ThrowawayCluster,
    small_sandbox: SandboxHandle,
    checkers: list[Checker],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = await crash_during_import(
        durable_cluster, small_sandbox, checkers, monkeypatch, crash_mid_page(3)
    )
    assert first["status"] == "failed" and first["error"] == DATABASE_LOST


async def test_crash_between_pages_stops_the_run_that_lost_a_commit(
    durable_cluster: ThrowawayCluster,
    small_sandbox: SandboxHandle,
    checkers: list[Checker],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The issue's case: the page acknowledged just before the crash is gone when the database is back.

    The run carries on over a fresh connection; its next commit sees the lost one and stops the run,
    so no later checkpoint passes the missing rows, and the next run re-reads them.
    """
    hook = crash_between_pages(3)
    first = await crash_during_import(durable_cluster, small_sandbox, checkers, monkeypatch, hook)
    assert first["status"] == "failed" and first["error"] == COMMITS_LOST, first


async def test_crash_between_pages_on_a_server_without_durable_commits(
    lossy_cluster: ThrowawayCluster,
    small_sandbox: SandboxHandle,
    checkers: list[Checker],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`synchronous_commit = off` server-wide: claims and run records are not durable either."""
    hook = crash_between_pages(3)
    first = await crash_during_import(lossy_cluster, small_sandbox, checkers, monkeypatch, hook)
    assert first["status"] == "failed" and first["error"] == COMMITS_LOST, first


async def test_crash_during_contact_merge(
    durable_cluster: ThrowawayCluster,
    small_sandbox: SandboxHandle,
    checkers: list[Checker],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = await crash_during_import(
        durable_cluster, small_sandbox, checkers, monkeypatch, crash_during_merge
    )
    assert first["status"] == "failed" and first["error"] == DATABASE_LOST


async def test_crash_during_final_bookkeeping_is_recorded_once_back(
    durable_cluster: ThrowawayCluster,
    small_sandbox: SandboxHandle,
    checkers: list[Checker],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hook = crash_during_bookkeeping

    async def queued(session: Any, *, account: str) -> bool:
        return True

    # The run ends with a contact merge (an asynchronous commit) even when nothing is left to merge, so
    # that its last commit before the crash is one the crash can take with it.
    monkeypatch.setattr(engine_module, "has_queued_contacts", queued)
    first = await crash_during_import(durable_cluster, small_sandbox, checkers, monkeypatch, hook)
    # The outcome is written once the database is back; the run's last commit (its final contact merge)
    # was lost with the crash, so the run does not claim success: the next run merges those contacts.
    assert first["status"] == "failed" and first["error"] == COMMITS_LOST, first
