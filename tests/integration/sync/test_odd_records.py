"""Odd records never stall a sync (API.md section 4): NULs removed, unplaceable records set aside."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db.models import Contact, Donation, Registration, Supporter
from app.sync.rejects import BAD_UPDATED_AT, NO_ID
from sandbox.server import SandboxHandle
from tests.integration.sync.helpers import ADMIN, connect, service, sync_settings, wait_for_run


def _ids(store: Any, org: int, resource: str) -> set[int]:
    return {row["id"] for row in store.dump(org, resource)}


async def _sync_now(client: httpx.AsyncClient, after: dict[str, Any]) -> dict[str, Any]:
    assert (await client.post("/api/v1/apps/classy/sync", headers=ADMIN)).status_code == 202
    run = await wait_for_run(client, after_id=after["id"])
    assert run["status"] == "succeeded", (run["error"], run)
    return run


async def test_nul_characters_and_unplaceable_records_during_an_initial_import(
    db: AsyncEngine, session: AsyncSession, database_url: str, sandbox: SandboxHandle
) -> None:
    org = sandbox.organization_ids[0]
    store = sandbox.store
    assert store is not None
    control = httpx.Client(base_url=sandbox.control_url)
    supporters = sorted(_ids(store, org, "supporters"))
    transactions = sorted(_ids(store, org, "transactions"))
    registrations = sorted(_ids(store, org, "registrations"))
    nul_supporter, idless_supporter = supporters[10], supporters[20]
    nul_transaction, odd_transaction = transactions[30], transactions[40]
    nul_registration = registrations[5]
    store.update(org, "supporters", nul_supporter, {"first_name": "Ann\x00a", "city": "Gettys\x00burg"})
    store.update(org, "registrations", nul_registration, {"first_name": "Kev\x00in"})
    store.update(org, "transactions", nul_transaction, {"comment": "Thank\x00 you", "metadata": "\x00"})
    control.post(
        f"/organizations/{org}/supporters/{idless_supporter}/render", json={"unset": ["id"]}
    ).raise_for_status()
    control.post(
        f"/organizations/{org}/transactions/{odd_transaction}/render",
        json={"set": {"updated_at": "not a time"}},
    ).raise_for_status()

    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, org)
        first = await wait_for_run(client)
        assert first["status"] == "succeeded", (first["error"], first)
        assert first["streams"]["supporters"]["rejected"] == 1
        assert first["streams"]["transactions"]["rejected"] == 1
        assert first["streams"]["registrations"]["rejected"] == 0
        listed = sorted(first["rejected"], key=lambda r: r["stream"])
        assert listed == [
            {"stream": "supporters", "classy_id": None, "reason": NO_ID},
            {"stream": "transactions", "classy_id": odd_transaction, "reason": BAD_UPDATED_AT},
        ]

        # Every other record is there; the NULs are gone from columns and from the stored payload.
        ours = set((await session.execute(select(Supporter.classy_id))).scalars())
        assert ours == set(supporters) - {idless_supporter}
        ours = set((await session.execute(select(Donation.classy_transaction_id))).scalars())
        assert ours == set(transactions) - {odd_transaction}
        ours = set((await session.execute(select(Registration.classy_id))).scalars())
        assert ours == set(registrations)
        supporter = (
            await session.execute(select(Supporter).where(Supporter.classy_id == nul_supporter))
        ).scalar_one()
        assert (supporter.first_name, supporter.city) == ("Anna", "Gettysburg")
        assert supporter.raw["first_name"] == "Anna" and supporter.raw["last_name"]
        contact = (
            await session.execute(select(Contact).where(Contact.email_lower == supporter.email_lower))
        ).scalar_one()
        assert contact.first_name == "Anna"
        registration = (
            await session.execute(select(Registration).where(Registration.classy_id == nul_registration))
        ).scalar_one()
        assert registration.first_name == "Kevin" and registration.raw["first_name"] == "Kevin"
        donation = (
            await session.execute(select(Donation).where(Donation.classy_transaction_id == nul_transaction))
        ).scalar_one()
        assert donation.raw["comment"] == "Thank you" and donation.raw["metadata"] == ""
        assert donation.amount is not None and donation.contact_id is not None
        # The record set aside is kept (without NULs) to be retried.
        stored = (
            await session.execute(text("SELECT raw FROM rejected_record WHERE stream = 'supporters'"))
        ).scalar_one()
        assert "id" not in stored and stored["email_address"]

        # The next change still arrives; the transaction set aside is asked for again by id (still odd).
        store.update(org, "supporters", supporters[-1], {"city": "Later"})
        second = await _sync_now(client, first)
        session.expire_all()
        later = (
            await session.execute(select(Supporter).where(Supporter.classy_id == supporters[-1]))
        ).scalar_one()
        assert later.city == "Later"
        assert second["rejected"] == [
            {"stream": "transactions", "classy_id": odd_transaction, "reason": BAD_UPDATED_AT}
        ]
        # Classy fixes it: the next run stores it and closes it.
        control.delete(f"/organizations/{org}/transactions/{odd_transaction}/render").raise_for_status()
        third = await _sync_now(client, second)
        assert third["rejected"] == []
        session.expire_all()
        fixed = await session.scalar(
            select(Donation.id).where(Donation.classy_transaction_id == odd_transaction)
        )
        assert fixed is not None
        still_open = (
            await session.execute(text("SELECT stream FROM rejected_record WHERE resolved_at IS NULL"))
        ).scalars()
        assert list(still_open) == ["supporters"]  # without an id it cannot be asked for


async def test_more_than_a_page_of_records_without_an_id_never_ends_the_read_early(
    db: AsyncEngine, session: AsyncSession, database_url: str, sandbox: SandboxHandle
) -> None:
    """The first 120 supporters in the window's order have no id: page 1 holds nothing to store, and
    must not look like the end of the list to the reader."""
    org = sandbox.organization_ids[0]
    store = sandbox.store
    assert store is not None
    control = httpx.Client(base_url=sandbox.control_url)
    ordered = sorted(store.dump(org, "supporters"), key=lambda r: (r["updated_at"], r["id"]))
    idless = [r["id"] for r in ordered[:120]]
    for rid in idless:
        control.post(f"/organizations/{org}/supporters/{rid}/render", json={"unset": ["id"]})
    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, org)
        run = await wait_for_run(client)
    assert run["status"] == "succeeded", run
    assert run["streams"]["supporters"]["rejected"] == 120
    assert len(run["rejected"]) == 100  # the first 100 listed; the count holds them all
    ours = set((await session.execute(select(Supporter.classy_id))).scalars())
    assert ours == {r["id"] for r in ordered} - set(idless)


async def test_a_refund_reread_sets_aside_a_record_it_cannot_identify(
    db: AsyncEngine, session: AsyncSession, database_url: str, sandbox: SandboxHandle
) -> None:
    """The refunds a reconcile (or webhook) run re-reads outside the lists' pages are screened like
    pages: a refunded transaction served without an id is set aside, and the run still succeeds."""
    org = sandbox.organization_ids[0]
    store = sandbox.store
    assert store is not None
    control = httpx.Client(base_url=sandbox.control_url)
    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, org)
        first = await wait_for_run(client)
        assert first["status"] == "succeeded", (first["error"], first)
        refunded, idless = [t["id"] for t in store.dump(org, "transactions") if t["status"] == "success"][:2]
        for gift in (refunded, idless):
            store.refund(org, gift, touch_updated_at=False)  # only the refund re-read can find them
        control.post(f"/organizations/{org}/transactions/{idless}/render", json={"unset": ["id"]})
        store.delete(org, "transactions", max(_ids(store, org, "transactions")))  # counts differ: a walk
        response = await client.post("/api/v1/apps/classy/sync", headers=ADMIN, json={"mode": "reconcile"})
        assert response.status_code == 202
        second = await wait_for_run(client, after_id=first["id"])
        assert second["status"] == "succeeded", (second["error"], second["streams"])
        assert second["streams"]["transactions"]["rejected"] == 1, second["streams"]["transactions"]
        assert [r["reason"] for r in second["rejected"]] == [NO_ID]
    status = (
        await session.execute(select(Donation.status).where(Donation.classy_transaction_id == refunded))
    ).scalar_one()
    assert status == "refunded"
    # Served without its id this once, it is still one of ours: the reconcile's id walk marks nothing
    # around it (it is not deleted in Classy).
    deleted_at = (
        await session.execute(select(Donation.deleted_at).where(Donation.classy_transaction_id == idless))
    ).scalar_one()
    assert deleted_at is None
