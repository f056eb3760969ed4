"""Records changing while we read, pause/resume, and reconnecting to the same or another organization."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db.models import Donation, Supporter
from sandbox.server import SandboxHandle
from tests.integration.sync.helpers import (
    ADMIN,
    assert_matches_sandbox,
    clear_requests,
    connect,
    data_requests,
    latest_run,
    reconnect,
    service,
    sync_settings,
    wait_for_run,
    wait_until,
)


def _store(sandbox: SandboxHandle):  # type: ignore[no-untyped-def]
    assert sandbox.store is not None
    return sandbox.store


async def test_records_changed_and_added_during_import_arrive_next_run(
    db: AsyncEngine, session: AsyncSession, database_url: str, sandbox: SandboxHandle
) -> None:
    org = sandbox.organization_ids[0]
    store = _store(sandbox)
    control = httpx.Client(base_url=sandbox.control_url)
    control.post("/faults", json={"kind": "latency", "rate": 1.0, "latency_ms": 40, "path_prefix": "/2.0/"})
    rng = random.Random(3)
    async with service(sync_settings(database_url, sandbox)) as client:
        saved = await connect(client, sandbox, org)
        assert saved["sync_running"] is True  # the first run is requested: Save says so, as GET does
        await wait_until(lambda: _running(client), timeout=30)
        # Change records in pages already read and not yet read, while the import runs.
        while (run := await latest_run(client)) is not None and run["status"] == "running":
            for resource in ("supporters", "transactions", "registrations"):
                store.churn(org, resource, updates=3, inserts=1)
            tids = [t["id"] for t in store.dump(org, "transactions")]
            store.refund(org, rng.choice(tids))
            await asyncio.sleep(0.05)
        first = await wait_for_run(client)
        assert first["status"] == "succeeded", (first["error"], first)
        control.delete("/faults")
        response = await client.post("/api/v1/apps/classy/sync", headers=ADMIN)
        assert response.status_code == 202, response.text
        second = await wait_for_run(client, after_id=first["id"])
        assert second["status"] == "succeeded" and second["trigger"] == "manual"
    await assert_matches_sandbox(session, sandbox, org)


async def _running(client: httpx.AsyncClient) -> bool:
    run = await latest_run(client)
    return run is not None and run["status"] == "running"


async def test_pause_stops_fetching_and_resume_brings_every_change(
    db: AsyncEngine, session: AsyncSession, database_url: str, sandbox: SandboxHandle
) -> None:
    org = sandbox.organization_ids[0]
    store = _store(sandbox)
    control = httpx.Client(base_url=sandbox.control_url)
    control.post("/faults", json={"kind": "latency", "rate": 1.0, "latency_ms": 30, "path_prefix": "/2.0/"})
    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, org)
        await wait_until(lambda: _running(client), timeout=30)
        await asyncio.sleep(0.3)
        paused = await client.post("/api/v1/apps/classy/pause", headers=ADMIN)
        assert paused.status_code == 200 and paused.json()["badge"] == "Paused"
        stopped = await wait_for_run(client)
        assert stopped["status"] == "cancelled", (stopped.get("error"), stopped.get("streams"))
        await asyncio.sleep(0.3)
        clear_requests(sandbox)
        sids = [s["id"] for s in store.dump(org, "supporters")[:5]]
        for sid in sids:
            store.update(org, "supporters", sid, {"city": "Paused City"})
        refunded = store.dump(org, "transactions")[0]["id"]
        store.refund(org, refunded)
        await asyncio.sleep(1.5)  # several scheduler ticks
        assert data_requests(sandbox) == [], "nothing may be fetched while paused"
        resumed = await client.post("/api/v1/apps/classy/resume", headers=ADMIN)
        assert resumed.status_code == 200 and resumed.json()["badge"] == "Connected"
        assert resumed.json()["sync_running"] is True  # the resume's run, as GET says from now on
        run = await wait_for_run(client, after_id=stopped["id"])
        # The interrupted first import continues, in a run named after what started it.
        assert run["status"] == "succeeded" and run["trigger"] == "resume", run
    await assert_matches_sandbox(session, sandbox, org)
    cities = (
        (await session.execute(select(Supporter.city).where(Supporter.classy_id.in_(sids)))).scalars().all()
    )
    assert set(cities) == {"Paused City"}
    status = await session.scalar(select(Donation.status).where(Donation.classy_transaction_id == refunded))
    assert status == "refunded"


def _lower_bounds(sandbox: SandboxHandle, resource: str) -> list[str]:
    bounds = []
    for request in data_requests(sandbox):
        if request["path"].endswith(f"/{resource}"):
            flt = parse_qs(urlsplit("?" + request["query"]).query).get("filter", [""])[0]
            bounds.append(flt)
    return bounds


async def test_reconnect_same_organization_fetches_only_changes(
    db: AsyncEngine, session: AsyncSession, database_url: str, sandbox: SandboxHandle
) -> None:
    org = sandbox.organization_ids[0]
    store = _store(sandbox)
    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, org)
        first = await wait_for_run(client)
        assert first["status"] == "succeeded"
        disconnected = await client.post("/api/v1/apps/classy/disconnect", headers=ADMIN)
        assert disconnected.json()["status"] == "disconnected"
        changed = [s["id"] for s in store.dump(org, "supporters")[10:17]]
        for sid in changed:
            store.update(org, "supporters", sid, {"last_name": "Changed"})
        store.create(org, "supporters", {"first_name": "Newly", "email_address": "newly@example.org"})
        clear_requests(sandbox)
        await reconnect(client, sandbox, org)
        run = await wait_for_run(client, after_id=first["id"])
        assert run["status"] == "succeeded" and run["trigger"] == "reconnect", run
    assert run["streams"]["supporters"]["fetched"] == len(changed) + 1
    # Transactions whose updated_at is null match no date filter, so every run re-reads those few.
    nulls = [t for t in store.dump(org, "transactions") if t.get("updated_at") is None]
    assert run["streams"]["transactions"]["fetched"] == len(nulls)
    assert run["streams"]["transactions"]["unchanged"] == len(nulls)
    assert all(
        flt.startswith("updated_at>=2") and not flt.startswith("updated_at>=1970")
        for flt in _lower_bounds(sandbox, "supporters")
    )
    await assert_matches_sandbox(session, sandbox, org)


async def test_reconnect_other_organization_brings_only_its_recent_records(
    db: AsyncEngine, session: AsyncSession, database_url: str, sandbox: SandboxHandle
) -> None:
    org_a, org_b = sandbox.organization_ids[:2]
    store = _store(sandbox)
    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, org_a)
        first = await wait_for_run(client)
        assert first["status"] == "succeeded"
        status = (await client.get("/api/v1/apps/classy", headers=ADMIN)).json()
        last_synced = datetime.fromisoformat(status["last_synced_at"])
        await client.post("/api/v1/apps/classy/disconnect", headers=ADMIN)
        recent = [s["id"] for s in store.dump(org_b, "supporters")[:4]]
        for sid in recent:
            store.update(org_b, "supporters", sid, {"city": "Recent"})
        recent_tx = store.dump(org_b, "transactions")[5]["id"]
        store.refund(org_b, recent_tx)
        await reconnect(client, sandbox, org_b)
        run = await wait_for_run(client, after_id=first["id"])
        assert run["status"] == "succeeded", (run["error"], run)
    b_supporters = set(
        (
            await session.execute(select(Supporter.classy_id).where(Supporter.organization_id == org_b))
        ).scalars()
    )
    # The donor of a recent gift is read by id even if older than the cut-off (every donor linked).
    donor = store.get(org_b, "transactions", recent_tx)["supporter_id"]  # type: ignore[index]
    expected = set(recent) | ({donor} if donor is not None else set())
    assert b_supporters == expected, "only org B's records updated since the last sync, never its history"
    b_donations = set(
        (
            await session.execute(
                select(Donation.classy_transaction_id).where(Donation.organization_id == org_b)
            )
        ).scalars()
    )
    assert b_donations == {recent_tx}
    a_count = await session.scalar(
        select(func.count()).select_from(Supporter).where(Supporter.organization_id == org_a)
    )
    assert a_count == len(store.dump(org_a, "supporters")), "org A's synced data stays"
    assert last_synced is not None


async def test_pause_stops_a_sync_waiting_out_a_rate_limit(
    db: AsyncEngine, database_url: str, sandbox: SandboxHandle
) -> None:
    control = httpx.Client(base_url=sandbox.control_url)
    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, sandbox.organization_ids[0])
        first = await wait_for_run(client)
        rule = {"kind": "429", "count": 5, "retry_after": 3, "path_prefix": "/2.0/"}
        control.post("/faults", json=rule).raise_for_status()
        clear_requests(sandbox)
        assert (await client.post("/api/v1/apps/classy/sync", headers=ADMIN)).status_code == 202

        async def rate_limited() -> bool:
            return any(r["status"] == 429 for r in data_requests(sandbox))

        await wait_until(rate_limited, timeout=20)
        await client.post("/api/v1/apps/classy/pause", headers=ADMIN)
        paused_at = time.time()
        stopped = await wait_for_run(client, after_id=first["id"], timeout=5)
        assert stopped["status"] == "cancelled", (stopped.get("error"), stopped.get("streams"))
        await asyncio.sleep(4)  # longer than the Retry-After the client was waiting out
    late = [r for r in data_requests(sandbox) if r["time"] > paused_at + 0.2]
    assert late == [], "a paused integration must not reach Classy, even to finish a retry"
