"""refresh_statistics: the planner learns a grown table's size and its lookup columns, cheaply."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db.repositories.classy_columns import DONATION
from app.db.repositories.records import refresh_statistics, upsert_page

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
