"""Campaigns, recurring plans and registrations: keyset paging, filters, contacts and tenant isolation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.repositories.classy_columns import CAMPAIGN, DONATION, RECURRING_PLAN, REGISTRATION, SUPPORTER
from app.db.repositories.records import merge_queued_contacts, upsert_page
from tests.conftest import bearer

TS = "2024-01-0{}T00:00:00+0000"


async def seed(session: AsyncSession, account: str, base: int) -> None:
    """Five of everything for `account`; Classy ids start at `base` (accounts may share Classy ids)."""

    async def put(mapping: Any, records: list[dict[str, Any]]) -> None:
        await upsert_page(session, mapping, account=account, organization_id=1, records=records)
        await merge_queued_contacts(session, account=account)

    await put(
        CAMPAIGN,
        [
            {"id": base + i, "name": f"{account} campaign {i}", "goal": 100 * i, "updated_at": TS.format(i)}
            for i in range(1, 6)
        ],
    )
    await put(
        SUPPORTER,
        [
            {
                "id": base + i,
                "first_name": f"P{i}",
                "email_address": f"p{i}@{account}.org",
                "updated_at": TS.format(i),
            }
            for i in range(1, 6)
        ],
    )
    await put(
        RECURRING_PLAN,
        [
            {
                "id": base + i,
                "supporter_id": base + (1 if i <= 3 else 2),
                "campaign_id": base + 1,
                "status": "active" if i % 2 else "canceled",
                "donation_amount": 25,
                "next_processing_date": "2024-07-15",
                "updated_at": TS.format(i),
            }
            for i in range(1, 6)
        ],
    )
    await put(
        REGISTRATION,
        [
            {
                "id": base + i,
                "campaign_id": base + (1 if i <= 2 else 2),
                "supporter_id": base + 3 if i == 5 else None,
                "email": f"p{min(i, 4)}@{account}.org" if i != 5 else None,
                "status": "attending" if i != 4 else "archived",
                "product_name": "General Admission",
                "updated_at": TS.format(i),
            }
            for i in range(1, 6)
        ],
    )
    await put(
        DONATION,
        [
            {
                "id": base + i,
                "supporter_id": base + 1,
                "recurring_donation_plan_id": base + 1 if i <= 2 else None,
                "status": "success",
                "donation_gross_amount": 25,
                "updated_at": TS.format(i),
            }
            for i in range(1, 6)
        ],
    )
    await session.commit()


async def _pages(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"limit": 2, **params, **({"cursor": cursor} if cursor else {})}
        body = (await client.get(path, headers=headers, params=query)).json()
        assert len(body["items"]) <= 2
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/api/v1/campaigns", "classy_campaign_id"),
        ("/api/v1/recurring-plans", "classy_recurring_plan_id"),
        ("/api/v1/registrations", "classy_registration_id"),
    ],
)
async def test_lists_page_and_never_show_another_account(
    client: httpx.AsyncClient, session: AsyncSession, path: str, key: str
) -> None:
    await seed(session, "acme", 1000)
    await seed(session, "other", 1000)  # the same Classy ids, another tenant
    acme, other = bearer("acme", role="member"), bearer("other", role="member")
    mine = await _pages(client, path, acme)
    theirs = await _pages(client, path, other)
    assert sorted(i[key] for i in mine) == [1001, 1002, 1003, 1004, 1005]
    assert [i["id"] for i in mine] == sorted(i["id"] for i in mine)  # oldest first, each once
    assert not {i["id"] for i in mine} & {i["id"] for i in theirs}
    for item in theirs:
        assert (await client.get(f"{path}/{item['id']}", headers=acme)).status_code == 404
    one = await client.get(f"{path}/{mine[0]['id']}", headers=acme)
    assert one.status_code == 200 and one.json() == mine[0]
    last = (await client.get(path, headers=acme, params={"limit": 5})).json()
    assert len(last["items"]) == 5 and last["next_cursor"] is None
    bad = await client.get(path, headers=acme, params={"cursor": "nope"})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_cursor"
    assert (await client.get(path, params={"limit": 501}, headers=acme)).status_code == 422


async def test_plans_and_registrations_link_and_filter_by_contact(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await seed(session, "acme", 1000)
    await seed(session, "other", 1000)
    acme = bearer("acme", role="member")
    contacts = {
        c["email"]: c["id"] for c in (await client.get("/api/v1/contacts", headers=acme)).json()["items"]
    }
    plans = (await client.get("/api/v1/recurring-plans", headers=acme)).json()["items"]
    assert {p["classy_recurring_plan_id"]: p["contact_id"] for p in plans} == {
        1001: contacts["p1@acme.org"],
        1002: contacts["p1@acme.org"],
        1003: contacts["p1@acme.org"],
        1004: contacts["p2@acme.org"],
        1005: contacts["p2@acme.org"],
    }
    assert plans[0]["next_charge_on"] == "2024-07-15" and plans[0]["amount"] == "25.00"
    p1 = await _pages(client, "/api/v1/recurring-plans", acme, contact_id=contacts["p1@acme.org"])
    assert [p["classy_recurring_plan_id"] for p in p1] == [1001, 1002, 1003]
    active = await _pages(
        client, "/api/v1/recurring-plans", acme, status="active", contact_id=contacts["p1@acme.org"]
    )
    assert [p["classy_recurring_plan_id"] for p in active] == [1001, 1003]
    other_contact = (await client.get("/api/v1/contacts", headers=bearer("other"))).json()["items"][0]["id"]
    assert await _pages(client, "/api/v1/recurring-plans", acme, contact_id=other_contact) == []

    regs = {r["classy_registration_id"]: r for r in await _pages(client, "/api/v1/registrations", acme)}
    assert regs[1005]["contact_id"] == contacts["p3@acme.org"]  # by its supporter: it has no email
    assert (
        regs[1001]["contact_id"] == contacts["p1@acme.org"]
        and regs[1001]["ticket_name"] == "General Admission"
    )
    assert regs[1001]["campaign_name"] == "acme campaign 1"
    p4 = await _pages(client, "/api/v1/registrations", acme, contact_id=contacts["p4@acme.org"])
    assert [r["classy_registration_id"] for r in p4] == [1004]
    by_campaign = await _pages(client, "/api/v1/registrations", acme, classy_campaign_id=1001)
    assert [r["classy_registration_id"] for r in by_campaign] == [1001, 1002]
    archived = await _pages(client, "/api/v1/registrations", acme, status="archived")
    assert [r["classy_registration_id"] for r in archived] == [1004]

    paid = await _pages(client, "/api/v1/donations", acme, classy_recurring_plan_id=1001)
    assert [d["classy_transaction_id"] for d in paid] == [1001, 1002]
    assert all(d["classy_recurring_plan_id"] == 1001 for d in paid)


@pytest.mark.parametrize(
    ("path", "table"),
    [
        ("/api/v1/campaigns", "campaign"),
        ("/api/v1/recurring-plans", "recurring_plan"),
        ("/api/v1/registrations", "registration"),
    ],
)
async def test_lists_hide_deleted_rows_unless_asked(
    client: httpx.AsyncClient, session: AsyncSession, path: str, table: str
) -> None:
    await seed(session, "acme", 1000)
    await session.execute(text(f"UPDATE {table} SET deleted_at = now() WHERE classy_id = 1002"))
    await session.commit()
    acme = bearer("acme", role="member")
    shown = await _pages(client, path, acme)
    everything = await _pages(client, path, acme, include_deleted="true")
    assert len(shown) == 4 and len(everything) == 5
    gone = next(i for i in everything if i["deleted_at"] is not None)
    assert gone["id"] not in {i["id"] for i in shown}
    assert (await client.get(f"{path}/{gone['id']}", headers=acme)).json()["deleted_at"] is not None
    csv_rows = (await client.get(path, headers={**acme, "Accept": "text/csv"})).text.strip().split("\r\n")
    assert len(csv_rows) == 1 + 4


async def test_csv_streams_more_rows_than_one_chunk(client: httpx.AsyncClient, session: AsyncSession) -> None:
    records = [
        {"id": i, "status": "success", "donation_gross_amount": 5, "comment": "=1+1" if i == 7 else None}
        for i in range(1, 2_601)
    ]
    await upsert_page(session, DONATION, account="acme", organization_id=1, records=records)
    await session.commit()
    response = await client.get("/api/v1/donations", headers={**bearer("acme"), "Accept": "text/csv"})
    assert response.status_code == 200
    lines = response.text.split("\r\n")
    assert len(lines) == 1 + 2_600 + 1 and lines[-1] == ""  # header, every row in id order, final CRLF
    assert "'=1+1" in response.text
