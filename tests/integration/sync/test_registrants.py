"""Registrants bring what Classy holds (API.md, Contacts): name, email and postal code by default,
address and phone too where the event requires the billing address."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db.models import Contact
from sandbox.server import SandboxHandle
from tests.integration.sync.helpers import connect, service, sync_settings, wait_for_run

ADDRESS = ("address1", "city", "state", "country")


async def test_registrant_contacts_follow_the_events_billing_address_setting(
    db: AsyncEngine, session: AsyncSession, database_url: str, sandbox: SandboxHandle
) -> None:
    org = sandbox.organization_ids[0]
    store = sandbox.store
    assert store is not None
    requiring = {c["id"] for c in store.dump(org, "campaigns") if c["is_billing_address_required"]}
    # A campaign requiring it, and a free registrant of it (created now, so both kinds surely exist).
    campaign = store.create(org, "campaigns", {"is_billing_address_required": True})
    requiring.add(campaign["id"])
    created = store.create(
        org,
        "registrations",
        {"campaign_id": campaign["id"], "supporter_id": None, "email": "full.registrant@example.org"},
    )
    assert created["address1"] and created["city"] and created["postal_code"]
    others = {r["email_address"].lower() for r in store.dump(org, "supporters")} | {
        (t["member_email_address"] or "").lower() for t in store.dump(org, "transactions")
    }
    free = [
        r
        for r in store.dump(org, "registrations")
        if r["supporter_id"] is None and r["transaction_id"] is None and r["email"].lower() not in others
    ]
    full = [r for r in free if r["campaign_id"] in requiring]
    minimal = [r for r in free if r["campaign_id"] not in requiring]
    assert full and minimal
    # The sandbox follows Classy's default: a free registrant gives only name, email and postal code.
    assert all(r["address1"] is None and r["phone"] is None and r["postal_code"] for r in minimal)
    assert all(r["address1"] and r["city"] for r in full)

    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, org)
        run = await wait_for_run(client)
        assert run["status"] == "succeeded", run

    contacts = {
        c.email_lower: c
        for c in (await session.execute(select(Contact).where(Contact.account == "acme"))).scalars()
    }
    for r in full:
        c = contacts[r["email"].lower()]
        assert (c.first_name, c.last_name) == (r["first_name"], r["last_name"])
        assert c.postal_code == r["postal_code"]
        assert tuple(getattr(c, f) for f in ADDRESS) == tuple(r[f] for f in ADDRESS)
        assert c.phone == r["phone"]
    for r in minimal:
        c = contacts[r["email"].lower()]
        assert (c.first_name, c.postal_code) == (r["first_name"], r["postal_code"])
        assert all(getattr(c, f) is None for f in (*ADDRESS, "phone"))
