"""Lists that Classy will not filter or sort by updated_at are still read completely (issue #16)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db.models import Donation, Registration, Supporter, SyncCursor
from app.sync import fallback
from sandbox.server import SandboxHandle
from sandbox.store import SandboxStore
from tests.integration.sync.helpers import (
    ADMIN,
    assert_matches_sandbox,
    clear_requests,
    connect,
    data_requests,
    latest_run,
    service,
    sync_settings,
    wait_for_run,
    wait_until,
)

MODELS: dict[str, Any] = {"registrations": Registration, "supporters": Supporter}


def _store(sandbox: SandboxHandle) -> SandboxStore:
    assert sandbox.store is not None
    return sandbox.store


async def _sync(
    client: httpx.AsyncClient, after: dict[str, Any], mode: str = "incremental"
) -> dict[str, Any]:
    response = await client.post("/api/v1/apps/classy/sync", headers=ADMIN, json={"mode": mode})
    assert response.status_code == 202, response.text
    return await wait_for_run(client, after_id=after["id"])


async def _raw(session: AsyncSession, resource: str, classy_id: int) -> dict[str, Any]:
    session.expire_all()
    model = MODELS[resource]
    raw: dict[str, Any] = (
        await session.execute(select(model.raw).where(model.classy_id == classy_id))
    ).scalar_one()
    return raw


def _reads(run: dict[str, Any]) -> dict[str, str]:
    return {name: counts["read"] for name, counts in run["streams"].items()}


@pytest.mark.parametrize("resource", ["registrations", "supporters"])
async def test_a_list_ignoring_filter_and_sort_is_read_whole_and_complete(
    db: AsyncEngine, session: AsyncSession, database_url: str, sandbox: SandboxHandle, resource: str
) -> None:
    org = sandbox.organization_ids[0]
    store = _store(sandbox)
    control = httpx.Client(base_url=sandbox.control_url)
    control.post("/quirks", json={"resource": resource, "ignore": "filter_and_sort"}).raise_for_status()
    control.post("/faults", json={"kind": "latency", "rate": 1.0, "latency_ms": 20, "path_prefix": "/2.0/"})
    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, org)
        # Records change and arrive on that list while it is read.
        while (run := await latest_run(client)) is None or run["status"] == "running":
            store.churn(org, resource, updates=2, inserts=1)
            await asyncio.sleep(0.05)
        first = await wait_for_run(client)
        assert first["status"] == "succeeded", first
        assert _reads(first)[resource] == "whole"
        assert {name for name, how in _reads(first).items() if how == "incremental"} == set(
            first["streams"]
        ) - {resource}
        control.delete("/faults")
        second = await _sync(client, first)  # brings what changed during the import
        assert second["status"] == "succeeded", second
        await assert_matches_sandbox(session, sandbox, org)

        # A new record and an update to an old one both arrive with the next sync.
        old_id = store.dump(org, resource)[0]["id"]
        field = {"registrations": {"status": "not_attending"}, "supporters": {"nickname": "Updated"}}[
            resource
        ]
        store.update(org, resource, old_id, field)
        new_id = store.create(org, resource, {})["id"]
        third = await _sync(client, second)
        assert third["status"] == "succeeded", third
        assert _reads(third)[resource] == "whole"
        assert (await _raw(session, resource, new_id))["id"] == new_id
        assert (await _raw(session, resource, old_id)) == store.get(org, resource, old_id)
    await assert_matches_sandbox(session, sandbox, org)
    cursor = (
        await session.execute(
            select(SyncCursor).where(SyncCursor.organization_id == org, SyncCursor.stream == resource)
        )
    ).scalar_one()
    assert cursor.state["fallback"] == "whole"


@pytest.mark.parametrize(
    ("resource", "refuse"),
    [("registrations", "updated_at"), ("transactions", "updated_at"), ("supporters", "filter_and_sort")],
)
async def test_a_list_refusing_our_query_with_a_400_falls_back_and_is_read_complete(
    db: AsyncEngine,
    session: AsyncSession,
    database_url: str,
    sandbox: SandboxHandle,
    resource: str,
    refuse: str,
) -> None:
    """The reference confirms filtering and sorting by updated_at on only some lists, and answers invalid
    parameters with a 400: a refusal is read around like a query ignored, never a failed stream."""
    org = sandbox.organization_ids[0]
    store = _store(sandbox)
    control = httpx.Client(base_url=sandbox.control_url)
    control.post("/quirks", json={"resource": resource, "refuse": refuse}).raise_for_status()
    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, org)
        first = await wait_for_run(client)
        assert first["status"] == "succeeded", (first["error"], first["streams"])
        assert _reads(first)[resource] == "whole"
        assert {name for name, how in _reads(first).items() if how == "incremental"} == set(
            first["streams"]
        ) - {resource}
        await assert_matches_sandbox(session, sandbox, org)

        # A new record and an update to an old one both arrive with the next sync.
        old_id = store.dump(org, resource)[0]["id"]
        changes = {
            "registrations": {"status": "not_attending"},
            "supporters": {"nickname": "Updated"},
            "transactions": {"status": "refunded"},
        }
        store.update(org, resource, old_id, changes[resource])
        new_id = store.create(org, resource, {})["id"]
        second = await _sync(client, first)
        assert second["status"] == "succeeded", (second["error"], second["streams"])
        await assert_matches_sandbox(session, sandbox, org)

        # A reconcile finds a deletion even when the list will not be walked by id.
        store.delete(org, resource, new_id)
        third = await _sync(client, second, mode="reconcile")
        assert third["status"] == "succeeded", (third["error"], third["streams"])
        assert third["streams"][resource]["reconcile"]["deleted"] == 1, third["streams"][resource]

        # A day on, the run tries the updated_at window again: refused again, it falls back again.
        for _ in range(2):
            await session.execute(
                text(
                    "UPDATE sync_cursor SET state = jsonb_set(state, '{fallback_checked_at}', "
                    "to_jsonb('2000-01-01T00:00:00+00:00'::text)) WHERE stream = :stream"
                ),
                {"stream": resource},
            )
            await session.commit()
            third = await _sync(client, third)
            assert third["status"] == "succeeded", (third["error"], third["streams"][resource])
            assert _reads(third)[resource] == "whole"
        model = {**MODELS, "transactions": Donation}[resource]
        key = model.classy_transaction_id if model is Donation else model.classy_id
        session.expire_all()
        deleted_at = (await session.execute(select(model.deleted_at).where(key == new_id))).scalar_one()
        assert deleted_at is not None


async def test_a_list_ignoring_sort_reads_new_records_by_id_and_updates_by_reconcile(
    db: AsyncEngine,
    session: AsyncSession,
    database_url: str,
    sandbox: SandboxHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    org = sandbox.organization_ids[0]
    store = _store(sandbox)
    control = httpx.Client(base_url=sandbox.control_url)
    control.post("/quirks", json={"resource": "supporters", "ignore": "sort"}).raise_for_status()
    monkeypatch.setattr(fallback, "SMALL_LIST", 10)  # the sandbox's lists are small: treat them as big
    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, org)
        first = await wait_for_run(client)
        assert first["status"] == "succeeded", first
        assert _reads(first)["supporters"] == "whole"  # the first read by id starts at id 0
        await assert_matches_sandbox(session, sandbox, org)

        old_id = store.dump(org, "supporters")[0]["id"]
        store.update(org, "supporters", old_id, {"nickname": "Updated"})
        new_id = store.create(org, "supporters", {})["id"]
        second = await _sync(client, first)
        assert second["status"] == "succeeded", second
        assert _reads(second)["supporters"] == "by_id"
        assert second["streams"]["supporters"]["fetched"] == 1  # only what is new
        assert (await _raw(session, "supporters", new_id))["id"] == new_id
        assert (await _raw(session, "supporters", old_id)).get("nickname") != "Updated"

        # A reconcile run reads the list whole: the update arrives.
        third = await _sync(client, second, mode="reconcile")
        assert third["status"] == "succeeded", third
        assert _reads(third)["supporters"] == "whole"
        assert (await _raw(session, "supporters", old_id)).get("nickname") == "Updated"
    await assert_matches_sandbox(session, sandbox, org)


async def test_a_failing_list_does_not_hold_back_the_others_and_is_resumed_alone(
    db: AsyncEngine, session: AsyncSession, database_url: str, sandbox: SandboxHandle
) -> None:
    org = sandbox.organization_ids[0]
    store = _store(sandbox)
    control = httpx.Client(base_url=sandbox.control_url)
    prefix = f"/2.0/organizations/{org}/registrations"
    control.post("/faults", json={"kind": "404", "rate": 1.0, "path_prefix": prefix}).raise_for_status()
    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, org)
        first = await wait_for_run(client)
        assert first["status"] == "failed", first
        assert first["error"].startswith("Registrations could not be synced: "), first["error"]
        assert "The other lists were synced" in first["error"]
        assert first["streams"]["registrations"]["error"]
        assert first["streams"]["registrations"]["fetched"] == 0
        for name in ("campaigns", "supporters", "recurring_donation_plans", "transactions"):
            assert "error" not in first["streams"][name]
        assert first["streams"]["supporters"]["fetched"] == len(store.dump(org, "supporters"))
        status = (await client.get("/api/v1/apps/classy", headers=ADMIN)).json()
        assert status["last_synced_at"] is None and status["last_error"] == first["error"]
        supporters = (await session.execute(select(Supporter.classy_id))).scalars().all()
        assert set(supporters) == {s["id"] for s in store.dump(org, "supporters")}

        control.delete("/faults")
        second = await _sync(client, first)
        assert second["status"] == "succeeded", second
        # Only registrations are read in full; the others read just their short incremental window.
        assert second["streams"]["registrations"]["fetched"] == len(store.dump(org, "registrations"))
        assert second["streams"]["supporters"]["fetched"] < 50
        assert second["streams"]["transactions"]["fetched"] < 50
        status = (await client.get("/api/v1/apps/classy", headers=ADMIN)).json()
        assert status["last_synced_at"] is not None and status["last_error"] is None
    await assert_matches_sandbox(session, sandbox, org)


async def test_a_whole_read_interrupted_by_a_pause_resumes_from_its_checkpoint(
    db: AsyncEngine, session: AsyncSession, database_url: str, sandbox: SandboxHandle
) -> None:
    org = sandbox.organization_ids[0]
    store = _store(sandbox)
    control = httpx.Client(base_url=sandbox.control_url)
    control.post("/quirks", json={"resource": "supporters", "ignore": "filter_and_sort"}).raise_for_status()
    slow = {
        "kind": "latency",
        "rate": 1.0,
        "latency_ms": 400,
        "path_prefix": f"/2.0/organizations/{org}/supporters",
    }
    control.post("/faults", json=slow).raise_for_status()

    async def whole_read_under_way() -> bool:
        async with db.connect() as connection:
            state = await connection.scalar(
                text(
                    "SELECT state FROM sync_cursor WHERE organization_id = :org AND stream = 'supporters' "
                    "AND window_end IS NOT NULL"
                ),
                {"org": org},
            )
        return state is not None and state.get("read") == "whole" and state.get("block_pass") == 1

    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, org)
        await wait_until(whole_read_under_way, timeout=60)
        assert (await client.post("/api/v1/apps/classy/pause", headers=ADMIN)).status_code == 200
        stopped = await wait_for_run(client)
        assert stopped["status"] == "cancelled", (stopped.get("error"), stopped.get("streams"))
        assert await whole_read_under_way()  # the checkpoint of the pages committed is kept
        control.delete("/faults")
        clear_requests(sandbox)
        first_id = store.dump(org, "supporters")[0]["id"]
        store.update(org, "supporters", first_id, {"nickname": "While paused"})
        assert (await client.post("/api/v1/apps/classy/resume", headers=ADMIN)).status_code == 200
        run = await wait_for_run(client, after_id=stopped["id"])
        assert run["status"] == "succeeded" and _reads(run)["supporters"] == "whole", run
    pages = [
        parse_qs(r["query"]).get("page", ["1"])[0]
        for r in data_requests(sandbox)
        if r["path"].endswith(f"/{org}/supporters")
    ]
    assert pages[0] != "1", pages  # the interrupted walk went on after its last committed page
    await assert_matches_sandbox(session, sandbox, org)


async def test_a_list_the_apps_permissions_leave_out_fails_alone(
    db: AsyncEngine, session: AsyncSession, database_url: str, sandbox: SandboxHandle
) -> None:
    """A 403 names one entity (CLASSY_API.md §5): while the organization stays readable, only that list
    fails, the others are synced, and the integration stays connected (no admin action on the rest)."""
    org = sandbox.organization_ids[0]
    control = httpx.Client(base_url=sandbox.control_url)
    control.post("/quirks", json={"resource": "registrations", "refuse": "access"}).raise_for_status()
    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, org)
        first = await wait_for_run(client)
        assert first["status"] == "failed", first
        assert first["error"].startswith("Registrations could not be synced: Classy does not allow"), first
        assert "The other lists were synced" in first["error"]
        failed = {name for name, counts in first["streams"].items() if counts.get("error")}
        assert failed == {"registrations"}, first["streams"]
        status = (await client.get("/api/v1/apps/classy", headers=ADMIN)).json()
        assert status["status"] == "connected" and status["badge"] == "Connected", status
        supporters = (await session.execute(select(Supporter.classy_id))).scalars().all()
        assert sorted(supporters) == sorted(r["id"] for r in _store(sandbox).dump(org, "supporters"))

        # Once the app may read it again, the next run brings it.
        control.post("/quirks", json={"resource": "registrations"}).raise_for_status()
        second = await _sync(client, first)
        assert second["status"] == "succeeded", (second["error"], second["streams"])
        await assert_matches_sandbox(session, sandbox, org)
