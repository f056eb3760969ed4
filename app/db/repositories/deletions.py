"""Deletion marks (API.md section 5): count live rows, mark what Classy no longer returns, unmark returns.

Rows are never removed. A mark is a plain UPDATE of the row's `deleted_at` (database triggers on the data
tables see it like any other change). Marking or unmarking a row that feeds a contact queues that
person for the contact merge, which then marks the contact when every source of it is marked
(`CONTACT_DELETIONS`, run by `records.merge_queued_contacts`) and unmarks it when one comes back.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.repositories.classy_columns import ResourceMapping
from app.db.repositories.donor_links import purchaser_stands_for_donor

# The synced tables that carry `deleted_at` (API.md section 5 names their records); lists feeding other
# tables are not reconciled.
MARKED_TABLES = frozenset(
    {
        "supporter",
        "registration",
        "donation",
        "campaign",
        "recurring_plan",
        "designation",
        "fundraising_page",
        "fundraising_team",
    }
)


@dataclass(frozen=True)
class MarkOutcome:
    """What one walked page of Classy ids did to our rows."""

    deleted: int = 0
    restored: int = 0


async def live_count(
    session: AsyncSession, mapping: ResourceMapping, *, account: str, organization_id: int
) -> int:
    """Our rows of the organization that are not marked deleted (compared with Classy's `total`)."""
    statement = text(
        f"SELECT count(*) FROM {mapping.table} "
        "WHERE account = :account AND organization_id = :organization_id AND deleted_at IS NULL"
    )
    params = {"account": account, "organization_id": organization_id}
    return int((await session.execute(statement, params)).scalar_one())


async def held_ids(
    session: AsyncSession, mapping: ResourceMapping, *, account: str, organization_id: int, ids: list[int]
) -> set[int]:
    """Which of these Classy ids we hold a row for in the organization (marked deleted or not)."""
    statement = text(
        f"SELECT {mapping.key_column} FROM {mapping.table} WHERE account = :account "
        f"AND organization_id = :organization_id AND {mapping.key_column} = ANY(:ids)"
    )
    params = {"account": account, "organization_id": organization_id, "ids": ids}
    return {int(value) for value in (await session.execute(statement, params)).scalars()}


# The people a marked or unmarked row stands for, as the contact merge's queue keys (records.py).
_PEOPLE_KEYS = {
    "supporter": [
        "SELECT 'email', email_lower FROM touched WHERE email_lower IS NOT NULL",
        "SELECT 'supporter', key::text FROM touched",
    ],
    "registration": ["SELECT 'email', email_lower FROM touched WHERE email_lower IS NOT NULL"],
    "donation": [
        "SELECT 'email', email_lower FROM touched "
        f"WHERE email_lower IS NOT NULL AND {purchaser_stands_for_donor('touched')}",
        "SELECT 'transaction', key::text FROM touched",
    ],
}


@cache
def _mark_sql(mapping: ResourceMapping) -> str:
    table, key = mapping.table, mapping.key_column
    people = _PEOPLE_KEYS.get(table)
    email = "email_lower" if people else "NULL::text"
    supporter = {"donation": "classy_supporter_id"}.get(table, "NULL::bigint")
    returning = f"{key} AS key, {email} AS email_lower, {supporter} AS classy_supporter_id, account"
    scope = "account = :account AND organization_id = :organization_id"
    queue = ""
    if people:
        queue = f"""
, touched AS (SELECT * FROM marked UNION ALL SELECT * FROM restored)
, queued AS (
    INSERT INTO contact_refresh (account, kind, key)
    SELECT DISTINCT :account, kind, key FROM ({" UNION ".join(people)}) AS q(kind, key)
)"""
    return f"""
WITH marked AS (
    UPDATE {table} SET deleted_at = now()
    WHERE {scope} AND deleted_at IS NULL AND {key} > :low
      AND (CAST(:high AS bigint) IS NULL OR {key} <= :high)
      AND NOT ({key} = ANY(CAST(:ids AS bigint[])))
    RETURNING {returning}
),
restored AS (
    UPDATE {table} SET deleted_at = NULL
    WHERE {scope} AND deleted_at IS NOT NULL AND {key} = ANY(CAST(:ids AS bigint[]))
    RETURNING {returning}
){queue}
SELECT (SELECT count(*) FROM marked) AS deleted, (SELECT count(*) FROM restored) AS restored
"""


async def mark_walked_ids(
    session: AsyncSession,
    mapping: ResourceMapping,
    *,
    account: str,
    organization_id: int,
    low: int,
    high: int | None,
    ids: list[int],
) -> MarkOutcome:
    """Classy returned exactly `ids` for the id range `(low, high]` (`high` None: no upper end).

    Our live rows in that range that Classy did not return are marked deleted; our marked rows that
    Classy returned again are unmarked. Rows of other organizations are left alone.
    """
    params = {
        "account": account,
        "organization_id": organization_id,
        "low": low,
        "high": high,
        "ids": ids,
    }
    row = (await session.execute(text(_mark_sql(mapping)), params)).one()
    return MarkOutcome(deleted=int(row.deleted), restored=int(row.restored))


def _live_source(alias: str) -> str:
    """SQL: the contact `alias` still has a source (as the merge and donor linking read sources) that
    is not marked deleted: a supporter, a registrant, or a gift whose purchaser stands for its donor."""
    purchaser = purchaser_stands_for_donor("d")
    return f"""CASE WHEN {alias}.email_lower IS NULL THEN EXISTS (
        SELECT 1 FROM supporter s WHERE s.account = {alias}.account AND s.email_lower IS NULL
        AND s.classy_id = {alias}.classy_supporter_id AND s.deleted_at IS NULL)
      OR EXISTS (SELECT 1 FROM donation d WHERE d.account = {alias}.account AND d.email_lower IS NULL
                 AND d.classy_supporter_id = {alias}.classy_supporter_id AND {purchaser}
                 AND d.deleted_at IS NULL)
    ELSE EXISTS (SELECT 1 FROM supporter s WHERE s.account = {alias}.account
                 AND s.email_lower = {alias}.email_lower AND s.deleted_at IS NULL)
      OR EXISTS (SELECT 1 FROM registration r WHERE r.account = {alias}.account
                 AND r.email_lower = {alias}.email_lower AND r.deleted_at IS NULL)
      OR EXISTS (SELECT 1 FROM donation d WHERE d.account = {alias}.account
                 AND d.email_lower = {alias}.email_lower AND {purchaser} AND d.deleted_at IS NULL)
    END"""


def contact_deletions_sql(queued_emails: str, queued_supporters: str) -> str:
    """Mark the queued people's contacts whose every source is marked deleted; unmark the others.

    `queued_emails` and `queued_supporters` are SQL arrays of the merge's keys (see records.py).
    Only contacts whose mark changes are written.
    """
    return f"""
UPDATE contact c SET deleted_at = w.wanted
FROM (
    SELECT c2.id, CASE WHEN {_live_source("c2")} THEN NULL ELSE coalesce(c2.deleted_at, now()) END AS wanted
    FROM contact c2
    WHERE c2.account = :account
      AND (c2.email_lower = ANY({queued_emails})
           OR (c2.email_lower IS NULL AND c2.classy_supporter_id = ANY({queued_supporters})))
) w
WHERE c.id = w.id AND c.deleted_at IS DISTINCT FROM w.wanted
"""
