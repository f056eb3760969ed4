"""Page upserts, contact merging and donation linking, on the real database."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Contact, Donation, Supporter
from app.db.repositories.classy_columns import DONATION, REGISTRATION, SUPPORTER
from app.db.repositories.records import is_bad_value_error, merge_queued_contacts, upsert_page

ORG = 82364


def supporter(id_: int, email: str | None, **fields: Any) -> dict[str, Any]:
    return {
        "id": id_,
        "first_name": "Hannah",
        "last_name": "Rosendo",
        "email_address": email,
        "phone": "619-555-1212",
        "postal_code": "17325",
        "opt_in": True,
        "created_at": "2021-04-23T08:23:21+0000",
        "updated_at": "2024-06-01T12:00:00+0000",
        **fields,
    }


def transaction(id_: int, supporter_id: int | None, email: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": id_,
        "supporter_id": supporter_id,
        "campaign_id": 7,
        "status": "success",
        "donation_gross_amount": 50.0,
        "total_gross_amount": 52.5,
        "fees_amount": 1.75,
        "donation_net_amount": 48.25,
        "currency_code": "USD",
        "billing_first_name": "Bill",
        "billing_last_name": "Payer",
        "member_email_address": email,
        "consent": {"email_opt_in": False},
        "purchased_at": "2024-06-01T12:00:00Z",
        "created_at": "2024-06-01T12:00:00.000Z",
        "updated_at": None,
        "items": [{"id": 1, "type": "donation"}],
        **fields,
    }


async def apply(session: AsyncSession, mapping: Any, records: list[dict[str, Any]]) -> Any:
    outcome = await upsert_page(session, mapping, account="acme", organization_id=ORG, records=records)
    await merge_queued_contacts(session, account="acme")
    await session.commit()
    return outcome


async def test_upsert_counts_inserted_updated_unchanged(session: AsyncSession) -> None:
    first = await apply(session, SUPPORTER, [supporter(1, "a@x.org"), supporter(2, "b@x.org")])
    assert (first.inserted, first.updated, first.unchanged) == (2, 0, 0)
    again = await apply(session, SUPPORTER, [supporter(1, "a@x.org"), supporter(2, "b@x.org", city="Erie")])
    assert (again.inserted, again.updated, again.unchanged) == (0, 1, 1)
    rows = (await session.execute(select(Supporter).order_by(Supporter.classy_id))).scalars().all()
    assert [r.city for r in rows] == [None, "Erie"]


async def test_money_is_exact_and_timestamps_parse(session: AsyncSession) -> None:
    await apply(session, DONATION, [transaction(10, None, "p@x.org", donation_gross_amount="0.30")])
    donation = (await session.execute(select(Donation))).scalar_one()
    assert donation.amount == Decimal("0.30")
    assert donation.total_amount == Decimal("52.50")
    assert donation.created_at is not None and donation.created_at.tzinfo is not None
    assert donation.updated_at is None
    assert donation.items == [{"id": 1, "type": "donation"}]


async def test_one_contact_per_email_supporter_wins(session: AsyncSession) -> None:
    await apply(
        session,
        REGISTRATION,
        [
            {
                "id": 5,
                "first_name": "Reg",
                "last_name": "Istrant",
                "email": "A@X.org",
                "phone": "555",
                "postal_code": "92126",
                "updated_at": "2025-01-01T00:00:00+0000",
            }
        ],
    )
    contact = (await session.execute(select(Contact))).scalar_one()
    # A registrant brings what Classy holds for them (here a phone too; API.md, Contacts).
    assert (contact.first_name, contact.phone, contact.postal_code) == ("Reg", "555", "92126")
    await apply(session, SUPPORTER, [supporter(1, "a@x.org")])
    await session.refresh(contact)
    contacts = (await session.execute(select(Contact))).scalars().all()
    assert len(contacts) == 1
    assert (contacts[0].first_name, contacts[0].classy_supporter_id, contacts[0].phone) == (
        "Hannah",
        1,
        "619-555-1212",
    )


async def test_donation_before_its_supporter_is_linked_later(session: AsyncSession) -> None:
    await apply(session, DONATION, [transaction(10, 1, "other@x.org")])
    donation = (await session.execute(select(Donation))).scalar_one()
    assert donation.contact_id is None
    await apply(session, SUPPORTER, [supporter(1, "a@x.org")])
    await session.refresh(donation)
    contact = (await session.execute(select(Contact))).scalar_one()
    assert donation.contact_id == contact.id


async def test_supporter_email_change_moves_contact(session: AsyncSession) -> None:
    await apply(session, SUPPORTER, [supporter(1, "a@x.org")])
    await apply(session, DONATION, [transaction(10, 1, "a@x.org")])
    await apply(session, SUPPORTER, [supporter(1, "new@x.org", updated_at="2024-07-01T00:00:00+0000")])
    contacts = (await session.execute(select(Contact))).scalars().all()
    assert [c.email_lower for c in contacts] == ["new@x.org"]
    donation = (await session.execute(select(Donation))).scalar_one()
    await session.refresh(donation)
    assert donation.contact_id == contacts[0].id


async def test_supporter_without_email_gets_own_contact(session: AsyncSession) -> None:
    await apply(session, SUPPORTER, [supporter(3, None)])
    contact = (await session.execute(select(Contact))).scalar_one()
    assert contact.email_lower is None and contact.classy_supporter_id == 3


async def test_values_postgres_cannot_store_become_null_with_safe_casts(session: AsyncSession) -> None:
    bad = transaction(
        11, None, "z@x.org", refunded_at="0000-00-00 00:00:00", purchased_at="2024-02-30T00:00:00+0000"
    )
    bad["donation_gross_amount"] = 1e17
    with pytest.raises(DBAPIError) as caught:
        await upsert_page(session, DONATION, account="acme", organization_id=ORG, records=[bad])
    assert is_bad_value_error(caught.value)
    await session.rollback()
    outcome = await upsert_page(
        session, DONATION, account="acme", organization_id=ORG, records=[bad], safe_casts=True
    )
    await session.commit()
    assert outcome.inserted == 1
    donation = (await session.execute(select(Donation))).scalar_one()
    assert (donation.refunded_at, donation.purchased_at, donation.amount) == (None, None, None)
    assert donation.raw["refunded_at"] == "0000-00-00 00:00:00", "the raw payload keeps what Classy sent"
    assert donation.total_amount == Decimal("52.50")
