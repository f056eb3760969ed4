"""Every donor linked (API.md, Donations): gifts naming a supporter no window brought still get a contact."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db.models import Contact, Donation, Supporter
from sandbox.server import SandboxHandle
from tests.integration.sync.helpers import (
    ADMIN,
    connect,
    data_requests,
    reconnect,
    service,
    sync_settings,
    wait_for_run,
)


async def _donation(session: AsyncSession, tid: int) -> Donation:
    session.expire_all()
    return (await session.execute(select(Donation).where(Donation.classy_transaction_id == tid))).scalar_one()


async def _contact(session: AsyncSession, contact_id: int | None) -> Contact:
    assert contact_id is not None
    return (await session.execute(select(Contact).where(Contact.id == contact_id))).scalar_one()


def _by_id_reads(sandbox: SandboxHandle, supporter_id: int) -> int:
    return sum(1 for r in data_requests(sandbox) if r["path"] == f"/2.0/supporters/{supporter_id}")


async def test_after_a_switch_a_new_gift_by_an_older_supporter_has_its_contact(
    db: AsyncEngine, session: AsyncSession, database_url: str, sandbox: SandboxHandle
) -> None:
    org_a, org_b = sandbox.organization_ids[:2]
    store = sandbox.store
    assert store is not None
    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, org_a)
        first = await wait_for_run(client)
        assert first["status"] == "succeeded"
        await client.post("/api/v1/apps/classy/disconnect", headers=ADMIN)
        # Org B: new gifts (after the cut-off) by supporters whose own records are older than it.
        old_supporter = store.dump(org_b, "supporters")[3]
        old_registrant_supporter = store.dump(org_b, "supporters")[4]
        gift = store.create(org_b, "transactions", {"supporter_id": old_supporter["id"]})["id"]
        registration = store.create(
            org_b,
            "registrations",
            {"supporter_id": old_registrant_supporter["id"], "email": "reg@example.org"},
        )["id"]
        # Supporters Classy does not have (404): the purchaser stands for the donor.
        ghost, ghost_without_email = 990_000_001, 990_000_002
        ghost_gift = store.create(
            org_b,
            "transactions",
            {"supporter_id": ghost, "member_email_address": "Ghost@Example.org", "billing_first_name": "Gus"},
        )["id"]
        anonymous_gift = store.create(
            org_b,
            "transactions",
            {
                "supporter_id": ghost_without_email,
                "member_email_address": None,
                "billing_first_name": "Nadia",
                "billing_last_name": "Noemail",
            },
        )["id"]
        await reconnect(client, sandbox, org_b)
        run = await wait_for_run(client, after_id=first["id"])
        assert run["status"] == "succeeded", (run["error"], run)

        donation = await _donation(session, gift)
        contact = await _contact(session, donation.contact_id)
        assert contact.email_lower == old_supporter["email_address"].lower()
        assert contact.classy_supporter_id == old_supporter["id"]
        stored = await session.scalar(
            select(Supporter.classy_id).where(Supporter.classy_id == old_supporter["id"])
        )
        assert stored == old_supporter["id"]
        assert _by_id_reads(sandbox, old_supporter["id"]) == 1
        # The registrant's supporter was read too: its contact has the supporter's data.
        assert _by_id_reads(sandbox, old_registrant_supporter["id"]) == 1
        registrant = (
            await session.execute(
                select(Contact).where(
                    Contact.email_lower == old_registrant_supporter["email_address"].lower()
                )
            )
        ).scalar_one()
        assert registrant.classy_supporter_id == old_registrant_supporter["id"]
        assert registration

        ghost_contact = await _contact(session, (await _donation(session, ghost_gift)).contact_id)
        assert (ghost_contact.email_lower, ghost_contact.first_name) == ("ghost@example.org", "Gus")
        links = {ghost_gift: ghost_contact.id}
        nameless = await _contact(session, (await _donation(session, anonymous_gift)).contact_id)
        assert (nameless.email_lower, nameless.classy_supporter_id) == (None, ghost_without_email)
        assert (nameless.first_name, nameless.last_name) == ("Nadia", "Noemail")
        links[anonymous_gift] = nameless.id
        unlinked = (
            await session.execute(
                select(Donation.classy_transaction_id).where(
                    Donation.organization_id == org_b,
                    Donation.contact_id.is_(None),
                    Donation.classy_supporter_id.is_not(None),
                )
            )
        ).all()
        assert unlinked == []

        # The next run asks Classy about none of them again, and the links hold.
        assert (await client.post("/api/v1/apps/classy/sync", headers=ADMIN)).status_code == 202
        second = await wait_for_run(client, after_id=run["id"])
        assert second["status"] == "succeeded"
        assert _by_id_reads(sandbox, ghost) == 1 and _by_id_reads(sandbox, ghost_without_email) == 1
        for tid, contact_id in links.items():
            assert (await _donation(session, tid)).contact_id == contact_id


async def test_a_supporter_classy_refuses_to_show_by_id_fails_nothing_and_is_linked_later(
    db: AsyncEngine, session: AsyncSession, database_url: str, sandbox: SandboxHandle
) -> None:
    org_a, org_b = sandbox.organization_ids[:2]
    store = sandbox.store
    assert store is not None
    control = httpx.Client(base_url=sandbox.control_url)
    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, org_a)
        first = await wait_for_run(client)
        await client.post("/api/v1/apps/classy/disconnect", headers=ADMIN)
        donor = store.dump(org_b, "supporters")[6]
        gift = store.create(org_b, "transactions", {"supporter_id": donor["id"]})["id"]
        refusal = {"kind": "headers", "status": 403, "headers": {}, "path_prefix": "/2.0/supporters/"}
        control.post("/hostile", json=refusal).raise_for_status()
        await reconnect(client, sandbox, org_b)
        run = await wait_for_run(client, after_id=first["id"])
        assert run["status"] == "succeeded", (run["error"], run)
        assert (await _donation(session, gift)).contact_id is None
        control.delete("/hostile").raise_for_status()
        assert (await client.post("/api/v1/apps/classy/sync", headers=ADMIN)).status_code == 202
        second = await wait_for_run(client, after_id=run["id"])
        assert second["status"] == "succeeded", second
        contact = await _contact(session, (await _donation(session, gift)).contact_id)
        assert contact.classy_supporter_id == donor["id"]
