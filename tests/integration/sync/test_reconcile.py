"""Reconcile (API.md section 5): deletions marked and unmarked, quiet refunds caught, its cost, full mode."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db.models import Contact, Donation, Supporter
from sandbox.server import SandboxHandle
from sandbox.store import SandboxStore
from tests.integration.sync.helpers import (
    ADMIN,
    assert_matches_sandbox,
    clear_requests,
    connect,
    data_requests,
    reconnect,
    service,
    sync_settings,
    wait_for_run,
    wait_until,
)

pytestmark = pytest.mark.timeout(240)
LISTS = ("campaigns", "supporters", "recurring-donation-plans", "transactions", "registrations")


def _store(sandbox: SandboxHandle) -> SandboxStore:
    assert sandbox.store is not None
    return sandbox.store


def _lonely_supporter(store: SandboxStore, org: int) -> dict[str, Any]:
    """A supporter whose email no registrant, other supporter or supporter-less purchaser shares."""
    supporters = store.dump(org, "supporters")
    taken: dict[str, int] = {}
    for s in supporters:
        email = (s.get("email_address") or "").strip().lower()
        taken[email] = taken.get(email, 0) + 1
    for r in store.dump(org, "registrations"):
        taken[(r.get("email") or "").strip().lower()] = 99
    for t in store.dump(org, "transactions"):
        if t.get("supporter_id") is None:
            taken[(t.get("member_email_address") or "").strip().lower()] = 99
    return next(s for s in supporters if s.get("email_address") and taken[s["email_address"].lower()] == 1)


async def _sync(client: httpx.AsyncClient, mode: str, after_id: int) -> dict[str, Any]:
    response = await client.post("/api/v1/apps/classy/sync", headers=ADMIN, json={"mode": mode})
    assert response.status_code == 202, response.text
    assert response.json()["mode"] == mode and response.json()["trigger"] == "manual"
    run = await wait_for_run(client, after_id=after_id)
    assert run["status"] == "succeeded", (run["error"], run)
    assert run["mode"] == mode and run["trigger"] == "manual"
    return run


async def _listed(client: httpx.AsyncClient, path: str, **params: Any) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    cursor = None
    while True:
        query = {"limit": 500, **params, **({"cursor": cursor} if cursor else {})}
        body = (await client.get(path, headers=ADMIN, params=query)).json()
        found.update({item["id"]: item for item in body["items"]})
        cursor = body["next_cursor"]
        if cursor is None:
            return found


async def test_reconcile_marks_deletions_catches_quiet_refunds_and_unmarks_restored_records(
    db: AsyncEngine, session: AsyncSession, database_url: str, sandbox: SandboxHandle
) -> None:
    org = sandbox.organization_ids[0]
    store = _store(sandbox)
    control = httpx.Client(base_url=f"{sandbox.control_url}/organizations/{org}")
    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, org)
        first = await wait_for_run(client)
        assert first["status"] == "succeeded" and first["mode"] == "incremental"

        lonely = _lonely_supporter(store, org)
        # Classy's own DELETE /supporters/{id}, with an app token.
        token = httpx.post(
            sandbox.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": sandbox.client_id,
                "client_secret": sandbox.client_secret,
            },
        ).json()["access_token"]
        deleted = httpx.delete(
            f"{sandbox.api_url}/supporters/{lonely['id']}", headers={"Authorization": f"Bearer {token}"}
        )
        assert deleted.status_code == 200 and deleted.json() == {}
        transactions = store.dump(org, "transactions")
        gone_tx = transactions[3]["id"]
        control.delete(f"/transactions/{gone_tx}").raise_for_status()
        quiet = next(t for t in transactions[10:] if t["status"] == "success")
        control.post(
            f"/transactions/{quiet['id']}/refund", json={"touch_updated_at": False}
        ).raise_for_status()

        plain = await _sync(client, "incremental", first["id"])
        assert plain["streams"]["transactions"]["updated"] == 0, "the quiet refund is invisible to updated_at"
        run = await _sync(client, "reconcile", plain["id"])
        supporters, txs = run["streams"]["supporters"], run["streams"]["transactions"]
        assert supporters["reconcile"]["walked"] and supporters["reconcile"]["deleted"] == 1
        assert txs["reconcile"]["walked"] and txs["reconcile"]["deleted"] == 1
        assert txs["updated"] == 1, "the refund was re-read by its refunded_at"
        assert not run["streams"]["campaigns"]["reconcile"]["walked"]

        session.expire_all()
        supporter = (
            await session.execute(select(Supporter).where(Supporter.classy_id == lonely["id"]))
        ).scalar_one()
        assert supporter.deleted_at is not None
        donation = (
            await session.execute(select(Donation).where(Donation.classy_transaction_id == gone_tx))
        ).scalar_one()
        assert donation.deleted_at is not None
        refunded = (
            await session.execute(select(Donation).where(Donation.classy_transaction_id == quiet["id"]))
        ).scalar_one()
        assert (
            refunded.status == "refunded" and refunded.refunded_at is not None and refunded.deleted_at is None
        )
        contact = (
            await session.execute(
                select(Contact).where(Contact.email_lower == lonely["email_address"].lower())
            )
        ).scalar_one()
        assert contact.deleted_at is not None, "its only source is deleted"

        # Lists hide what is marked unless asked; reads by id still answer, with deleted_at.
        contacts = await _listed(client, "/api/v1/contacts")
        assert contact.id not in contacts and all(c["deleted_at"] is None for c in contacts.values())
        with_deleted = await _listed(client, "/api/v1/contacts", include_deleted="true")
        assert with_deleted[contact.id]["deleted_at"] is not None
        # (the deleted transaction's purchaser may be gone too, when it had no supporter and no other gift)
        assert {i for i, c in with_deleted.items() if c["deleted_at"]} == set(with_deleted) - set(contacts)
        one = (await client.get(f"/api/v1/contacts/{contact.id}", headers=ADMIN)).json()
        assert one["deleted_at"] is not None
        donations = await _listed(client, "/api/v1/donations")
        assert donation.id not in donations and refunded.id in donations
        assert (await _listed(client, "/api/v1/donations", include_deleted="true"))[donation.id]["deleted_at"]
        one = (await client.get(f"/api/v1/donations/{donation.id}", headers=ADMIN)).json()
        assert one["deleted_at"] is not None and one["classy_transaction_id"] == gone_tx

        # Restored in Classy: the supporter as it was (updated_at unchanged), the transaction touched.
        control.post(f"/supporters/{lonely['id']}/restore").raise_for_status()
        control.post(f"/transactions/{gone_tx}/restore", json={"touch_updated_at": True}).raise_for_status()
        again = await _sync(client, "reconcile", run["id"])
        assert again["streams"]["supporters"]["reconcile"]["restored"] == 1
        assert again["streams"]["transactions"]["updated"] == 1, "the touched one came back through upsert"
        for name in ("supporters", "transactions"):
            assert again["streams"][name]["reconcile"].get("deleted", 0) == 0
        session.expire_all()
        for row in (supporter, donation, contact):
            await session.refresh(row)
            assert row.deleted_at is None, row
        assert contact.id in await _listed(client, "/api/v1/contacts")
    await assert_matches_sandbox(session, sandbox, org)


async def test_reconcile_with_nothing_deleted_asks_one_count_per_list_and_writes_nothing(
    db: AsyncEngine, session: AsyncSession, database_url: str, sandbox: SandboxHandle
) -> None:
    org = sandbox.organization_ids[0]
    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, org)
        first = await wait_for_run(client)
        assert first["status"] == "succeeded"
        written = text(
            "SELECT (SELECT max(synced_at) FROM supporter), (SELECT max(synced_at) FROM donation), "
            "(SELECT max(synced_at) FROM registration), (SELECT max(updated_at) FROM contact), "
            "(SELECT count(*) FROM contact WHERE deleted_at IS NOT NULL)"
        )
        before = (await session.execute(written)).one()
        clear_requests(sandbox)
        run = await _sync(client, "reconcile", first["id"])
        after = (await session.execute(written)).one()
    assert before == after, "a reconcile that finds nothing writes nothing"
    for name, counts in run["streams"].items():
        assert counts["reconcile"]["walked"] is False, name
        assert counts["reconcile"]["classy_total"] == counts["reconcile"]["ours"], name
        assert counts["inserted"] == counts["updated"] == 0, name
    requests = data_requests(sandbox)
    for resource in LISTS:
        path = f"/2.0/organizations/{org}/{resource}"
        counts = [r for r in requests if r["path"] == path and parse_qs(r["query"]).get("per_page") == ["1"]]
        walks = [
            r
            for r in requests
            if r["path"] == path and "id>" in "".join(parse_qs(r["query"]).get("filter", []))
        ]
        # The incremental read's null probes also use per_page=1 (transactions): they carry a sort.
        assert len([r for r in counts if "sort" not in parse_qs(r["query"])]) == 1, resource
        assert walks == [], resource
    lookback = [
        parse_qs(r["query"])["filter"][0]
        for r in requests
        if "filter" in parse_qs(r["query"])
        and urlsplit(r["path"]).path.endswith("/transactions")
        and not parse_qs(r["query"])["filter"][0].startswith("updated_at")
    ]
    assert {f.split(">=")[0] for f in lookback} == {"purchased_at", "refunded_at"}


async def _switch(client: httpx.AsyncClient, sandbox: SandboxHandle) -> tuple[int, dict[str, Any]]:
    """Connect organization A, disconnect, change one supporter of B, reconnect to B: (that supporter,
    the switch's run, which brought only it)."""
    org_a, org_b = sandbox.organization_ids[:2]
    store = _store(sandbox)
    await connect(client, sandbox, org_a)
    first = await wait_for_run(client)
    assert first["status"] == "succeeded"
    await client.post("/api/v1/apps/classy/disconnect", headers=ADMIN)
    recent = store.dump(org_b, "supporters")[0]["id"]
    store.update(org_b, "supporters", recent, {"city": "Recent"})
    await reconnect(client, sandbox, org_b)
    switched = await wait_for_run(client, after_id=first["id"])
    assert switched["status"] == "succeeded" and switched["streams"]["supporters"]["inserted"] == 1
    return recent, switched


async def test_full_mode_after_a_switch_brings_older_records_once(
    db: AsyncEngine, session: AsyncSession, database_url: str, sandbox: SandboxHandle
) -> None:
    org_b = sandbox.organization_ids[1]
    store = _store(sandbox)
    async with service(sync_settings(database_url, sandbox)) as client:
        recent, switched = await _switch(client, sandbox)
        full = await _sync(client, "full", switched["id"])
        assert full["streams"]["supporters"]["inserted"] == len(store.dump(org_b, "supporters")) - 1
        await assert_matches_sandbox(session, sandbox, org_b)
        again = await _sync(client, "full", full["id"])
        assert all(c["inserted"] == c["updated"] == 0 for c in again["streams"].values()), again["streams"]
        # Afterwards incremental runs continue from where the full read ended.
        store.update(org_b, "supporters", recent, {"city": "Later"})
        clear_requests(sandbox)
        later = await _sync(client, "incremental", again["id"])
        assert (
            later["streams"]["supporters"]["updated"] == 1 and later["streams"]["supporters"]["fetched"] < 5
        )
    await assert_matches_sandbox(session, sandbox, org_b)
    total = await session.scalar(
        select(func.count()).select_from(Supporter).where(Supporter.organization_id == org_b)
    )
    assert total == len(store.dump(org_b, "supporters")), "nothing doubled"


async def test_scheduled_reconcile_runs_by_itself(
    db: AsyncEngine, session: AsyncSession, database_url: str, sandbox: SandboxHandle
) -> None:
    org = sandbox.organization_ids[0]
    store = _store(sandbox)
    settings = sync_settings(database_url, sandbox, RECONCILE_INTERVAL_SECONDS=3)
    async with service(settings) as client:
        await connect(client, sandbox, org)
        first = await wait_for_run(client)
        assert first["status"] == "succeeded"
        victim = store.dump(org, "transactions")[0]["id"]
        store.delete(org, "transactions", victim)
        run = await wait_for_run(client, after_id=first["id"], timeout=30)
        assert run["status"] == "succeeded", run
        assert (run["trigger"], run["mode"]) == ("scheduled", "reconcile")
        assert run["streams"]["transactions"]["reconcile"]["deleted"] == 1

        async def marked() -> bool:
            session.expire_all()
            row = await session.scalar(
                select(Donation.deleted_at).where(Donation.classy_transaction_id == victim)
            )
            return row is not None

        await wait_until(marked, timeout=5)
        status = (await client.get("/api/v1/apps/classy", headers=ADMIN)).json()
        assert status["next_sync_at"] is not None and status["last_reconciled_at"] is not None


async def test_sync_mode_must_be_known(db: AsyncEngine, database_url: str, sandbox: SandboxHandle) -> None:
    async with service(sync_settings(database_url, sandbox)) as client:
        response = await client.post("/api/v1/apps/classy/sync", headers=ADMIN, json={"mode": "everything"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error" and "mode" in body["detail"] and body["detail"].endswith(".")


async def test_a_reconcile_brings_in_records_the_incremental_reads_missed(
    db: AsyncEngine, session: AsyncSession, database_url: str, sandbox: SandboxHandle
) -> None:
    """Counts that differ the other way (Classy holds records we lack: a shift in a heavily churned
    one-second block can leave one unread) make the id walk upsert those records, not only mark."""
    org = sandbox.organization_ids[0]
    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, org)
        first = await wait_for_run(client)
        assert first["status"] == "succeeded", (first["error"], first)
        lost_gift = _store(sandbox).dump(org, "transactions")[7]["id"]
        lost_registrant = _store(sandbox).dump(org, "registrations")[3]["id"]
        # As if the reads had never seen them.
        await session.execute(text("DELETE FROM donation WHERE classy_transaction_id = :i"), {"i": lost_gift})
        await session.execute(text("DELETE FROM registration WHERE classy_id = :i"), {"i": lost_registrant})
        await session.commit()
        plain = await _sync(client, "incremental", first["id"])
        run = await _sync(client, "reconcile", plain["id"])
        assert run["streams"]["transactions"]["inserted"] == 1, run["streams"]["transactions"]
        assert run["streams"]["registrations"]["inserted"] == 1, run["streams"]["registrations"]
        assert run["streams"]["transactions"]["reconcile"]["deleted"] == 0
        await assert_matches_sandbox(session, sandbox, org)


async def test_a_reconcile_after_a_switch_leaves_the_older_history_out(
    db: AsyncEngine, session: AsyncSession, database_url: str, sandbox: SandboxHandle
) -> None:
    """The id walk brings in records we lack, but never a switched organization's older history."""
    org_b = sandbox.organization_ids[1]
    async with service(sync_settings(database_url, sandbox)) as client:
        _, switched = await _switch(client, sandbox)
        run = await _sync(client, "reconcile", switched["id"])
        supporters = run["streams"]["supporters"]
        assert supporters["reconcile"]["walked"] and supporters["inserted"] == 0, supporters
    held = await session.scalar(
        select(func.count()).select_from(Supporter).where(Supporter.organization_id == org_b)
    )
    assert held == 1
