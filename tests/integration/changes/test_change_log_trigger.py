"""The change_log statement trigger, directly: what each kind of statement logs, empty ones included.

Every page upsert fires the UPDATE trigger even when it updated nothing (migration
change_log_skips_empty_statements returns early then); the log must still hold exactly one entry per
inserted, really changed or deleted row, and nothing for statements that touched no row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db.repositories.classy_columns import CAMPAIGN
from app.db.repositories.records import upsert_page


def _campaign(classy_id: int, name: str) -> dict[str, Any]:
    return {"id": classy_id, "name": name, "updated_at": "2024-01-01T00:00:00+0000"}


async def _write(session: AsyncSession, records: list[dict[str, Any]]) -> None:
    await upsert_page(session, CAMPAIGN, account="acme", organization_id=1, records=records)


async def _log(session: AsyncSession) -> list[tuple[str, int]]:
    rows = await session.execute(
        text(
            "SELECT c.type, k.classy_id FROM change_log c JOIN campaign k ON k.id = c.row_id "
            "WHERE c.account = 'acme' ORDER BY c.seq"
        )
    )
    return [(r.type, r.classy_id) for r in rows]


async def _step(sessionmaker: async_sessionmaker[AsyncSession], *statements: Any) -> list[tuple[str, int]]:
    """Run the statements (record lists are page upserts) in one transaction; return the log after it."""
    async with sessionmaker() as session:
        async with session.begin():
            for statement in statements:
                if isinstance(statement, list):
                    await _write(session, statement)
                else:
                    await session.execute(text(statement))
        return await _log(session)


async def test_each_statement_logs_its_rows_and_empty_ones_nothing(
    db: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    inserted = await _step(sessionmaker, [_campaign(1, "a"), _campaign(2, "b")])
    assert inserted == [("campaign", 1), ("campaign", 2)]
    unchanged = await _step(
        sessionmaker,
        [_campaign(1, "a"), _campaign(2, "b")],  # the UPDATE trigger fires with no row
        "UPDATE campaign SET name = name WHERE false",
        "DELETE FROM campaign WHERE false",
        "UPDATE campaign SET synced_at = now()",  # bookkeeping only: rows updated, none changed
    )
    assert unchanged == inserted
    changed = await _step(sessionmaker, [_campaign(2, "b2"), _campaign(3, "c")])
    assert sorted(changed[2:]) == [("campaign", 2), ("campaign", 3)]
    async with sessionmaker() as session, session.begin():
        await session.execute(text("DELETE FROM campaign WHERE classy_id = 1"))
        deleted = await session.scalar(text("SELECT count(*) FROM change_log WHERE account = 'acme'"))
    assert deleted == len(changed) + 1
