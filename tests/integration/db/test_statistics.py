"""refresh_statistics: the planner learns a grown table's size and its lookup columns, cheaply."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db.repositories.classy_columns import DONATION, SUPPORTER
from app.db.repositories.records import MERGE_STEPS, merge_queued_contacts, refresh_statistics, upsert_page

_COMMON = text("SELECT attname, most_common_vals::text FROM pg_stats WHERE tablename = 'donation'")


async def test_analyzes_the_lookup_columns_and_counts_the_rows(
    db: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    gifts = [
        {
            "id": i,
            "supporter_id": i % 7 or None,
            "member_email_address": f"stat{i % 50}@x.org",
            "billing_city": "Zzyzx",
        }
        for i in range(1, 601)
    ]
    async with sessionmaker() as session, session.begin():
        # Autovacuum must not analyze the table meanwhile (this session's own database).
        await session.execute(text("ALTER TABLE donation SET (autovacuum_enabled = false)"))
        await upsert_page(session, DONATION, account="acme", organization_id=1, records=gifts)
    try:
        async with sessionmaker() as session:
            async with session.begin():
                await refresh_statistics(session, ["donation"])
            rows = await session.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'donation'"))
            common = {r.attname: r.most_common_vals or "" for r in await session.execute(_COMMON)}
    finally:
        async with sessionmaker() as session, session.begin():
            await session.execute(text("ALTER TABLE donation RESET (autovacuum_enabled)"))
    assert rows == 600
    assert "stat1@x.org" in common["email_lower"]  # analyzed now: a lookup column
    assert {"account", "classy_transaction_id", "classy_supporter_id", "contact_id", "deleted_at"} <= set(
        common
    )
    assert "Zzyzx" not in common.get("city", "")  # not analyzed by this call: left to autovacuum


def _contact_scans(plan: dict[str, Any]) -> list[str]:
    """The index condition (or "" for none) of every scan of `contact` in an EXPLAIN (FORMAT JSON) tree."""
    found = [plan.get("Index Cond", "")] if plan.get("Relation Name") == "contact" else []
    for child in plan.get("Plans", []):
        found += _contact_scans(child)
    return found


async def test_donor_links_probe_each_contact_by_its_key_whatever_the_statistics_say(
    db: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Contacts analyzed while empty, then merged by the thousand: the link step must still look each
    donor's contact up by email or supporter id. As joins it scanned every contact of the account for
    each donation (the statistics said there were none): minutes for one merge of a large import."""
    supporters = [{"id": i, "email_address": f"donor{i}@x.org", "first_name": "D"} for i in range(1, 2001)]
    gifts = [{"id": i, "supporter_id": i % 2000 + 1} for i in range(1, 3001)]
    async with sessionmaker() as session, session.begin():
        await session.execute(text("ALTER TABLE contact SET (autovacuum_enabled = false)"))
        await session.execute(text("ANALYZE contact"))
    try:
        async with sessionmaker() as session, session.begin():
            await upsert_page(session, SUPPORTER, account="acme", organization_id=1, records=supporters)
            await upsert_page(session, DONATION, account="acme", organization_id=1, records=gifts)
            await refresh_statistics(session, ["supporter", "donation"])
            assert await merge_queued_contacts(session, account="acme") > 0
        async with sessionmaker() as session, session.begin():
            await session.execute(
                text(
                    "CREATE TEMPORARY TABLE IF NOT EXISTS merging (kind text NOT NULL, key text NOT NULL) "
                    "ON COMMIT DELETE ROWS"
                )
            )
            await session.execute(
                text("INSERT INTO merging SELECT 'supporter', g::text FROM generate_series(1, 2000) g")
            )
            link = dict(MERGE_STEPS)["donor links"]
            plan = await session.scalar(text(f"EXPLAIN (FORMAT JSON) {link}"), {"account": "acme"})
            linked = await session.scalar(
                text("SELECT count(contact_id) FROM donation WHERE account = 'acme'")
            )
    finally:
        async with sessionmaker() as session, session.begin():
            await session.execute(text("ALTER TABLE contact RESET (autovacuum_enabled)"))
    assert linked == 3000
    scans = _contact_scans(plan[0]["Plan"])
    assert scans and all("email_lower" in cond or "classy_supporter_id" in cond for cond in scans), scans
