"""Synced-data endpoints: fields, money as strings, filters, keyset paging and tenant isolation."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.repositories.classy_columns import CAMPAIGN, DONATION, SUPPORTER
from app.db.repositories.records import merge_queued_contacts, upsert_page
from tests.conftest import bearer


async def seed(session: AsyncSession, account: str) -> None:
    async def put(mapping, records):  # type: ignore[no-untyped-def]
        await upsert_page(session, mapping, account=account, organization_id=1, records=records)
        await merge_queued_contacts(session, account=account)

    await put(CAMPAIGN, [{"id": 7, "name": "Spring Gala", "updated_at": "2024-01-01T00:00:00+0000"}])
    await put(
        SUPPORTER,
        [
            {
                "id": i,
                "first_name": f"P{i}",
                "email_address": f"Person{i}@Example.org",
                "updated_at": f"2024-01-0{1 + i % 5}T00:00:00+0000",
            }
            for i in range(1, 6)
        ],
    )
    await put(
        DONATION,
        [
            {
                "id": 100,
                "supporter_id": 1,
                "campaign_id": 7,
                "status": "success",
                "donation_gross_amount": 52.5,
                "total_gross_amount": 54.1,
                "fees_amount": 1.6,
                "donation_net_amount": 50.9,
                "currency_code": "USD",
                "frequency": "one-time",
                "is_anonymous": False,
                "purchased_at": "2024-06-01T12:00:00+0000",
                "created_at": "2024-06-01T12:00:00+0000",
                "updated_at": "2024-06-01T12:00:05+0000",
            },
            {
                "id": 101,
                "supporter_id": 2,
                "status": "refunded",
                "donation_gross_amount": "10",
                "refunded_at": "2024-06-02T00:00:00Z",
                "updated_at": "2024-06-02T00:00:00Z",
            },
        ],
    )
    await session.commit()


async def test_contacts_paging_and_email_filter(client: httpx.AsyncClient, session: AsyncSession) -> None:
    await seed(session, "acme")
    headers = bearer(role="member")
    first = (await client.get("/api/v1/contacts?limit=2", headers=headers)).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    ids = [c["id"] for c in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = (await client.get(f"/api/v1/contacts?limit=2&cursor={cursor}", headers=headers)).json()
        ids += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
    assert len(ids) == 5 == len(set(ids))
    found = (await client.get("/api/v1/contacts?email=PERSON3@example.ORG", headers=headers)).json()["items"]
    assert [c["first_name"] for c in found] == ["P3"]
    assert found[0]["classy_supporter_id"] == 3
    one = await client.get(f"/api/v1/contacts/{found[0]['id']}", headers=headers)
    assert one.status_code == 200 and one.json()["email"] == "Person3@Example.org"


async def test_donation_fields_and_filters(client: httpx.AsyncClient, session: AsyncSession) -> None:
    await seed(session, "acme")
    headers = bearer()
    items = (await client.get("/api/v1/donations", headers=headers)).json()["items"]
    gift = next(d for d in items if d["classy_transaction_id"] == 100)
    assert gift["amount"] == "52.50" and gift["total_amount"] == "54.10"
    assert gift["fee_amount"] == "1.60" and gift["net_amount"] == "50.90"
    assert gift["campaign_name"] == "Spring Gala" and gift["currency"] == "USD"
    assert gift["purchased_at"].startswith("2024-06-01T12:00:00")
    assert gift["contact_id"] is not None
    refunded = (await client.get("/api/v1/donations?status=refunded", headers=headers)).json()["items"]
    assert [d["classy_transaction_id"] for d in refunded] == [101]
    by_contact = (
        await client.get(f"/api/v1/donations?contact_id={gift['contact_id']}", headers=headers)
    ).json()
    assert [d["classy_transaction_id"] for d in by_contact["items"]] == [100]
    recent = (
        await client.get("/api/v1/donations?updated_since=2024-06-01T23:00:00Z", headers=headers)
    ).json()
    assert [d["classy_transaction_id"] for d in recent["items"]] == [101]


async def test_other_accounts_data_is_invisible(client: httpx.AsyncClient, session: AsyncSession) -> None:
    await seed(session, "acme")
    theirs = bearer(account="globex")
    assert (await client.get("/api/v1/contacts", headers=theirs)).json()["items"] == []
    assert (await client.get("/api/v1/donations", headers=theirs)).json()["items"] == []
    mine = (await client.get("/api/v1/donations", headers=bearer())).json()["items"]
    response = await client.get(f"/api/v1/donations/{mine[0]['id']}", headers=theirs)
    assert response.status_code == 404 and response.json()["code"] == "not_found"


async def test_bad_inputs_are_clear_4xx(client: httpx.AsyncClient) -> None:
    headers = bearer()
    assert (await client.get("/api/v1/contacts?cursor=garbage!", headers=headers)).status_code == 422
    too_big = await client.get("/api/v1/contacts?limit=501", headers=headers)
    assert too_big.status_code == 422 and "limit" in too_big.json()["detail"]
    assert (await client.get("/api/v1/contacts/99999999999999999999", headers=headers)).status_code == 422
    assert (await client.get("/api/v1/contacts")).status_code == 401


async def test_hostile_inputs_get_a_4xx_sentence_never_a_500(client: httpx.AsyncClient) -> None:
    headers = bearer()
    for url in (
        "/api/v1/contacts?email=%00",
        "/api/v1/donations?status=a%00b",
        "/api/v1/contacts?updated_since=9999-12-31T23:59:59-14:00",
        "/api/v1/donations?updated_since=0001-01-01T00:00:00%2B01:00",
        "/api/v1/apps/classy/events?cursor=aWQ6OTk5OTk5OTk5OTk5OTk5OTk5OTk",
        "/api/v1/apps/classy/sync-runs?cursor=aWQ6OTk5OTk5OTk5OTk5OTk5OTk5OTk",
    ):
        response = await client.get(url, headers=headers)
        assert response.status_code == 422, (url, response.text)
        assert response.json()["detail"] and response.json()["code"]
    nul_account = bearer(account="ac\x00me")
    assert (await client.get("/api/v1/apps/classy", headers=nul_account)).status_code == 401
    broken = await client.put(
        "/api/v1/apps/classy/credentials",
        headers={**headers, "content-type": "application/json"},
        content=b"{nope",
    )
    assert broken.status_code == 400 and broken.json()["code"] == "invalid_json"
    long_state = await client.get("/oauth/classy/callback", params={"code": "c", "state": "s" * 5000})
    assert long_state.status_code == 302 and "error=" in long_state.headers["location"]
