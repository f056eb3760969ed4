"""GET /api/v1/changes: what it reports, scoping, cursors, and that a change still in flight is never
skipped by a reader who already holds a cursor past changes that committed before it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import Contact
from app.db.repositories.classy_columns import CAMPAIGN, DONATION
from app.db.repositories.records import upsert_page
from tests.conftest import bearer
from tests.integration.api.test_synced_data import seed

ACME = bearer("acme", "mary", "member")
GLOBEX = bearer("globex", "gus", "member")


async def _drain(
    client: httpx.AsyncClient, headers: dict[str, str], after: str | None = None, limit: int = 500
) -> tuple[list[dict[str, Any]], str]:
    items: list[dict[str, Any]] = []
    while True:
        params: dict[str, Any] = {"limit": limit, **({"after": after} if after else {})}
        response = await client.get("/api/v1/changes", headers=headers, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        after = page["next_cursor"]
        if not page["items"]:
            assert after
            return items, after


async def _wait_for(
    client: httpx.AsyncClient, headers: dict[str, str], after: str, count: int, timeout: float = 30.0
) -> tuple[list[dict[str, Any]], str]:
    """Poll until `count` changes arrived (on a shared server, another database's transaction in flight
    holds the feed back for a moment: it cannot know that transaction writes nothing of ours)."""
    items: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(items) < count and time.monotonic() < deadline:
        new, after = await _drain(client, headers, after)
        items += new
        if len(items) < count:
            await asyncio.sleep(0.05)
    return items, after


def _campaign(classy_id: int, name: str) -> dict[str, Any]:
    return {"id": classy_id, "name": name, "updated_at": "2024-01-01T00:00:00+0000"}


async def test_feed_reports_inserts_changes_and_deletions_of_the_callers_account(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await seed(session, "acme")
    await seed(session, "globex")
    logged = await session.scalar(text("SELECT count(*) FROM change_log WHERE account = 'acme'"))
    items, cursor = await _wait_for(client, ACME, "", logged)
    kinds = {(i["type"], i["change"]) for i in items}
    assert kinds == {("campaign", "upsert"), ("contact", "upsert"), ("donation", "upsert")}
    assert len(items) == len({i["seq"] for i in items})
    acme_ids = set((await session.execute(text("SELECT id FROM contact WHERE account = 'acme'"))).scalars())
    assert {i["id"] for i in items if i["type"] == "contact"} == acme_ids
    donation = next(i for i in items if i["type"] == "donation" and i["data"]["classy_transaction_id"] == 100)
    assert donation["data"]["amount"] == "52.50" and donation["data"]["campaign_name"] == "Spring Gala"
    campaign = next(i for i in items if i["type"] == "campaign")
    assert campaign["data"]["classy_campaign_id"] == 7 and campaign["data"]["name"] == "Spring Gala"
    globex, _ = await _wait_for(client, GLOBEX, "", logged)
    assert len(globex) == len(items) and not {i["seq"] for i in globex} & {i["seq"] for i in items}

    # Paging with a small limit hands out the same changes, each once.
    paged, paged_cursor = await _drain(client, ACME, limit=2)
    assert [i["seq"] for i in paged] == [i["seq"] for i in items] and paged_cursor == cursor

    # An identical page changes nothing; a changed record is one new change, "as it is now".
    same = {"id": 7, "name": "Spring Gala", "updated_at": "2024-01-01T00:00:00+0000"}
    await upsert_page(session, CAMPAIGN, account="acme", organization_id=1, records=[same])
    await session.execute(text("UPDATE donation SET status = status, raw = raw, synced_at = now()"))
    await session.commit()
    assert (await _drain(client, ACME, cursor))[0] == []  # no column really changed
    refund = {
        "id": 101,
        "supporter_id": 2,
        "status": "refunded",
        "donation_gross_amount": "10",
        "refunded_at": "2024-06-02T00:00:00Z",
        "updated_at": "2024-06-03T00:00:00Z",
    }
    await upsert_page(session, DONATION, account="acme", organization_id=1, records=[refund])
    await session.commit()
    new, cursor = await _wait_for(client, ACME, cursor, 1)
    assert [(i["type"], i["change"], i["data"]["updated_at"]) for i in new] == [
        ("donation", "upsert", "2024-06-03T00:00:00Z")
    ]

    # A row that is gone is a delete (data null); one marked deleted is a delete with its data.
    contact_id = next(iter(acme_ids))
    await session.execute(
        text("UPDATE donation SET contact_id = NULL WHERE contact_id = :id"), {"id": contact_id}
    )
    await session.execute(text("DELETE FROM contact WHERE id = :id"), {"id": contact_id})
    await session.commit()
    new, cursor = await _wait_for(client, ACME, cursor, 1)
    gone = [i for i in new if i["type"] == "contact"]
    assert gone == [
        {"seq": gone[0]["seq"], "type": "contact", "id": contact_id, "change": "delete", "data": None}
    ]
    if hasattr(Contact, "deleted_at"):  # deletion marks (reconcile)
        other = next(iter(acme_ids - {contact_id}))
        await session.execute(text("UPDATE contact SET deleted_at = now() WHERE id = :id"), {"id": other})
        await session.commit()
        new, cursor = await _wait_for(client, ACME, cursor, 1)
        assert [(i["id"], i["change"]) for i in new] == [(other, "delete")]
        assert new[0]["data"]["deleted_at"] is not None
        await session.execute(text("UPDATE contact SET deleted_at = NULL WHERE id = :id"), {"id": other})
        await session.commit()
        new, cursor = await _wait_for(client, ACME, cursor, 1)
        assert [(i["id"], i["change"]) for i in new] == [(other, "upsert")]
        # Each entry says what its change was: the mark stays a delete once the row is back, and the
        # entries before it stay upserts (the row's current state rewrites neither).
        everything, _ = await _drain(client, ACME)
        history = [i["change"] for i in everything if (i["type"], i["id"]) == ("contact", other)]
        assert history[-2:] == ["delete", "upsert"] and set(history[:-2]) == {"upsert"}, history

    for bad in ("nope", "Yzox", "c:1:2", "Yzot..."):
        answer = await client.get("/api/v1/changes", headers=ACME, params={"after": bad})
        assert answer.status_code == 422 and answer.json()["code"] == "invalid_cursor"
    assert (await client.get("/api/v1/changes")).status_code == 401


async def test_a_change_in_flight_is_withheld_until_it_commits_never_skipped(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    _, cursor = await _drain(client, ACME)
    async with sessionmaker() as slow, sessionmaker() as fast:
        # The slow transaction writes first (smaller transaction id and sequence number) ...
        await upsert_page(slow, CAMPAIGN, account="acme", organization_id=1, records=[_campaign(1, "slow")])
        # ... the fast one writes later and commits first.
        await upsert_page(fast, CAMPAIGN, account="acme", organization_id=1, records=[_campaign(2, "fast")])
        await fast.commit()
        committed = await session.scalar(text("SELECT count(*) FROM campaign WHERE account = 'acme'"))
        assert committed == 1
        # The committed change is withheld: handing it out would move the cursor past the slow one.
        withheld, same_cursor = await _drain(client, ACME, cursor)
        assert withheld == [] and same_cursor == cursor
        await slow.commit()
    items, _ = await _wait_for(client, ACME, cursor, 2)
    assert [i["data"]["name"] for i in items] == ["slow", "fast"]
