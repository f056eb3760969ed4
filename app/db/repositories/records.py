"""Idempotent page upserts of Classy records, and the contact merge and donation linking they feed.

Each function runs inside the caller's transaction: the engine commits a page's rows, the contacts
they touch and the stream's checkpoint together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.repositories.classy_columns import ResourceMapping
from app.db.repositories.deletions import contact_deletions_sql
from app.db.repositories.donor_links import purchaser_stands_for_donor
from app.db.repositories.nul import encode_json


@dataclass
class UpsertOutcome:
    """What one page did to its table."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def _personal(table: str, alias: str) -> str:
    """Whether a donation row holds what its supporter's contact takes from transactions."""
    if table != "donation":
        return "false"
    return " OR ".join(f"{alias}{c} IS NOT NULL" for c in ("sms_opt_in", "company_name", "cell_phone"))


def _queue_people_sql(mapping: ResourceMapping) -> str:
    """The CTE that queues, for the contact merge, the people a page touched (before and after)."""
    queued_keys = [
        "SELECT 'email', email_lower FROM changed WHERE email_lower IS NOT NULL",
        "SELECT 'email', old_email_lower FROM changed WHERE old_email_lower IS NOT NULL",
    ]
    if mapping.table == "supporter":
        queued_keys.append("SELECT 'supporter', key::text FROM changed")
    if mapping.table == "donation":
        # A donation with a supporter is that supporter's: its own email shapes no contact, and its
        # link is redone from its transaction key. Only supporter-less purchasers are people to merge.
        queued_keys = [
            "SELECT 'email', email_lower FROM changed WHERE email_lower IS NOT NULL AND supporter_id IS NULL",
            "SELECT 'email', old_email_lower FROM changed "
            "WHERE old_email_lower IS NOT NULL AND old_supporter_id IS NULL",
            "SELECT 'transaction', key::text FROM changed",
            # A supporter's contact takes SMS consent, company and cell phone from its transactions: its
            # email is looked up when merging (the supporter may commit after this page).
            "SELECT 'supporter_email', supporter_id::text FROM changed "
            "WHERE supporter_id IS NOT NULL AND (personal OR old_personal)",
        ]
    return f"""
, queued AS (
    INSERT INTO contact_refresh (account, kind, key)
    SELECT DISTINCT :account, kind, key FROM ({" UNION ".join(queued_keys)}) AS q(kind, key)
)"""


@cache
def _upsert_sql(mapping: ResourceMapping, safe: bool) -> str:
    """One statement: upsert the page, and queue the people it touched for the contact merge."""
    columns = list(mapping.columns)
    key = mapping.key_column
    has_people = "email_lower" in mapping.columns
    supporter_col = {"supporter": "classy_id", "donation": "classy_supporter_id"}.get(mapping.table)
    select_exprs = ", ".join(mapping.columns[c].sql(safe=safe) for c in columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in [*columns, "organization_id", "raw"])
    email = "email_lower" if has_people else "NULL::text"
    supporter = supporter_col or "NULL::bigint"
    old_email = "t.email_lower" if has_people else "NULL::text"
    old_supporter = f"t.{supporter_col}" if supporter_col else "NULL::bigint"
    queue = _queue_people_sql(mapping) if has_people else ""
    personal, old_personal = _personal(mapping.table, ""), _personal(mapping.table, "t.")
    return f"""
WITH src AS (
    SELECT DISTINCT ON (k) k, r FROM (
        SELECT (r->>'id')::bigint AS k, r, ord FROM jsonb_array_elements(CAST(:records AS jsonb))
            WITH ORDINALITY AS e(r, ord)
    ) s ORDER BY k, ord DESC
),
old AS (
    -- One index lookup per record of the page, whatever the planner thinks of the table's size.
    SELECT t.{key} AS key, {old_email} AS email_lower, {old_supporter} AS supporter_id,
           ({old_personal}) AS personal
    FROM src CROSS JOIN LATERAL (
        SELECT * FROM {mapping.table} x WHERE x.account = :account AND x.{key} = src.k
    ) t
),
written AS (
    INSERT INTO {mapping.table} (account, organization_id, {key}, {", ".join(columns)}, raw, synced_at)
    SELECT :account, :organization_id, k, {select_exprs}, {mapping.raw_sql()}, now() FROM src
    ON CONFLICT (account, {key}) DO UPDATE SET {updates}, synced_at = now(), deleted_at = NULL
    WHERE {mapping.table}.raw IS DISTINCT FROM EXCLUDED.raw
       OR {mapping.table}.organization_id IS DISTINCT FROM EXCLUDED.organization_id
       OR {mapping.table}.deleted_at IS NOT NULL
    RETURNING (xmax = 0) AS inserted, {key} AS key, {email} AS email_lower, {supporter} AS supporter_id,
              ({personal}) AS personal
),
changed AS (
    SELECT w.*, o.email_lower AS old_email_lower, o.supporter_id AS old_supporter_id,
           coalesce(o.personal, false) AS old_personal
    FROM written w LEFT JOIN old o ON o.key = w.key
){queue}
SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS updated
FROM changed
"""


async def upsert_page(
    session: AsyncSession,
    mapping: ResourceMapping,
    *,
    account: str,
    organization_id: int,
    records: list[dict[str, Any]],
    safe_casts: bool = False,
) -> UpsertOutcome:
    """Insert new records, update changed ones, leave identical ones untouched; count each kind.

    A row marked deleted (deletions.py) that Classy returns again is unmarked: it counts as updated.

    The people a changed record touches are queued in `contact_refresh` in the same statement, so they
    commit (or roll back) with the page; `merge_queued_contacts` merges them later in batches.
    A value the fast casts let through but Postgres cannot store raises a data error
    (`is_bad_value_error`): the caller rolls back and writes the page again with `safe_casts=True`.
    """
    if not records:
        return UpsertOutcome()
    params = {
        "records": encode_json(records),  # NUL characters removed: Postgres stores no \u0000
        "account": account,
        "organization_id": organization_id,
    }
    row = (await session.execute(text(_upsert_sql(mapping, safe_casts)), params)).one()
    total = len({r.get("id") for r in records})
    return UpsertOutcome(
        inserted=row.inserted, updated=row.updated, unchanged=total - row.inserted - row.updated
    )


_PERSON_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "address1",
    "address2",
    "city",
    "state",
    "postal_code",
    "country",
    "email_opt_in",
    "company",
    "cell_phone",
    "sms_opt_in",
)
_BOOLEAN_FIELDS = frozenset({"email_opt_in", "sms_opt_in"})
# Where a source names a contact field differently, or lacks it: supporters hold no SMS consent or
# company (Classy keeps those on each transaction), registrations no consent at all.
_SOURCE_COLUMNS: dict[str, dict[str, str | None]] = {
    "supporter": {"company": None, "sms_opt_in": None},
    "registration": {"email_opt_in": None, "sms_opt_in": None},
    "donation": {"company": "company_name"},
}
# Fields a supporter's own transactions give its contact (the rest comes from the supporter).
_FROM_SUPPORTER_TRANSACTIONS = frozenset({"company", "cell_phone", "sms_opt_in"})


def _null(field: str) -> str:
    return f"NULL::{'boolean' if field in _BOOLEAN_FIELDS else 'text'} AS {field}"


def _source_select(table: str, prio: int, updated: str, created: str, supporter: str, where: str) -> str:
    # A registrant brings what Classy holds for them (API.md, Contacts): name, email and postal code by
    # default, address and phone too where the event requires them.
    columns = _SOURCE_COLUMNS.get(table, {})
    fields = ", ".join(
        _null(f) if f in columns and columns[f] is None else f"{columns.get(f) or f} AS {f}"
        for f in _PERSON_FIELDS
    )
    return (
        f"SELECT email_lower, {prio} AS prio, {updated} AS upd, {created} AS crt, {updated} AS ord, "
        f"{supporter} AS supporter_id, {fields} FROM {table} WHERE account = :account AND {where}"
    )


def _supporter_transactions_select(where: str) -> str:
    """Donations of the queued supporters, for the fields Classy keeps on transactions only.

    They order among sources by their own time but leave the contact's Classy times alone.
    """
    fields = ", ".join(
        f"d.{_SOURCE_COLUMNS['donation'].get(f) or f} AS {f}"
        if f in _FROM_SUPPORTER_TRANSACTIONS
        else _null(f)
        for f in _PERSON_FIELDS
    )
    return (
        "SELECT s.email_lower, 1 AS prio, NULL::timestamptz AS upd, NULL::timestamptz AS crt, "
        f"coalesce(d.updated_at, d.created_at) AS ord, NULL::bigint AS supporter_id, {fields} "
        "FROM supporter s JOIN donation d ON d.account = s.account AND d.classy_supporter_id = s.classy_id "
        f"WHERE s.account = :account AND s.{where}"
    )


def _pick(column: str) -> str:
    # Supporters first, then the most recently updated source; the first non-null value wins.
    return f"(array_agg({column} ORDER BY prio, ord DESC NULLS LAST) FILTER (WHERE {column} IS NOT NULL))[1]"


_MERGED = ", ".join(_pick(f) + f" AS {f}" for f in _PERSON_FIELDS)
_CONTACT_COLUMNS = ", ".join(_PERSON_FIELDS)
_SUPPORTER_COLUMNS = ", ".join(_null(f) if f in _SOURCE_COLUMNS["supporter"] else f for f in _PERSON_FIELDS)
_CONTACT_UPDATES = ", ".join(f"{f} = EXCLUDED.{f}" for f in (*_PERSON_FIELDS, "classy_supporter_id"))
_COMPARED = (*_PERSON_FIELDS, "classy_supporter_id", "classy_created_at", "classy_updated_at")
_CONTACT_CHANGED = (
    f"({', '.join('contact.' + f for f in _COMPARED)}) IS DISTINCT FROM "
    f"({', '.join('EXCLUDED.' + f for f in _COMPARED)})"
)
# A merge first takes the queued keys into a temporary table `merging` (keys queued meanwhile wait for
# the next merge), then reads them from there: no key makes a round trip through Python. Each set is
# one array (an InitPlan, computed once per statement), so `= ANY(...)` keeps index-driven plans.
_QUEUED_EMAILS = "ARRAY(SELECT key FROM merging WHERE kind = 'email')"
_QUEUED_SUPPORTERS = "ARRAY(SELECT key::bigint FROM merging WHERE kind = 'supporter')"
_QUEUED_TRANSACTIONS = "ARRAY(SELECT key::bigint FROM merging WHERE kind = 'transaction')"
_BY_EMAIL = f"email_lower = ANY({_QUEUED_EMAILS})"
_SOURCES = " UNION ALL ".join(
    [
        _source_select("supporter", 0, "classy_updated_at", "classy_created_at", "classy_id", _BY_EMAIL),
        _source_select(
            "registration",
            1,
            "coalesce(classy_updated_at, classy_created_at)",
            "classy_created_at",
            "NULL::bigint",
            _BY_EMAIL,
        ),
        _source_select(
            "donation",
            1,
            "coalesce(updated_at, created_at)",
            "created_at",
            "NULL::bigint",
            f"{_BY_EMAIL} AND {purchaser_stands_for_donor('donation')}",
        ),
        _supporter_transactions_select(_BY_EMAIL),
    ]
)

_MERGE_BY_EMAIL = f"""
WITH sources AS ({_SOURCES})
INSERT INTO contact (account, email_lower, classy_supporter_id, {_CONTACT_COLUMNS},
                     classy_created_at, classy_updated_at, created_at, updated_at)
SELECT :account, email_lower, {_pick("supporter_id")}, {_MERGED}, min(crt), max(upd), now(), now()
FROM sources GROUP BY email_lower
ON CONFLICT (account, email_lower) WHERE email_lower IS NOT NULL DO UPDATE SET
    {_CONTACT_UPDATES}, classy_created_at = EXCLUDED.classy_created_at,
    classy_updated_at = EXCLUDED.classy_updated_at, updated_at = now()
WHERE {_CONTACT_CHANGED}
"""

_MERGE_SUPPORTERS_WITHOUT_EMAIL = f"""
INSERT INTO contact (account, email_lower, classy_supporter_id, {_CONTACT_COLUMNS},
                     classy_created_at, classy_updated_at, created_at, updated_at)
SELECT :account, NULL, classy_id, {_SUPPORTER_COLUMNS}, classy_created_at, classy_updated_at, now(), now()
FROM supporter WHERE account = :account AND classy_id = ANY({_QUEUED_SUPPORTERS}) AND email_lower IS NULL
ON CONFLICT (account, classy_supporter_id) WHERE email_lower IS NULL DO UPDATE SET
    {_CONTACT_UPDATES}, classy_created_at = EXCLUDED.classy_created_at,
    classy_updated_at = EXCLUDED.classy_updated_at, updated_at = now()
WHERE {_CONTACT_CHANGED}
"""

# Each contact is looked up by its own unique index, one probe per donation (scalar subqueries always
# plan that way). As joins, the planner chose by the contact table's statistics: while they still said
# "empty" (a table that grew since its last ANALYZE) it scanned every contact of the account for each
# donation, 4.7 s for 3,000 donations against 29 ms (bench/HISTORY.md, round seven).
_LINK_DONATIONS = f"""
UPDATE donation d SET contact_id = link.contact_id
FROM (
    SELECT d2.id, coalesce(
        (SELECT c.id FROM contact c WHERE c.account = d2.account AND c.email_lower = s.email_lower),
        (SELECT c.id FROM contact c
         WHERE c.account = d2.account AND c.email_lower IS NULL AND c.classy_supporter_id = s.classy_id
           AND s.email_lower IS NULL),
        (SELECT c.id FROM contact c
         WHERE c.account = d2.account AND c.email_lower = d2.email_lower AND s.classy_id IS NULL)
    ) AS contact_id
    FROM donation d2
    LEFT JOIN supporter s ON s.account = d2.account AND s.classy_id = d2.classy_supporter_id
    WHERE d2.account = :account
      AND (d2.classy_supporter_id = ANY({_QUEUED_SUPPORTERS}) OR d2.email_lower = ANY({_QUEUED_EMAILS})
           OR d2.classy_transaction_id = ANY({_QUEUED_TRANSACTIONS}))
) link
WHERE d.id = link.id AND d.contact_id IS DISTINCT FROM link.contact_id
"""

# Two statements, not one with OR: under an OR the planner re-checks `email_lower = ANY(array)` row by row
# as a filter, a linear walk of the array (an InitPlan's array is never hashed): 10k queued emails made
# it 0.6 s, quadratic in the batch. Each half keeps its `= ANY` as an index condition only.
_DELETE_ORPHANS_BY_EMAIL = f"""
DELETE FROM contact c
WHERE c.account = :account AND c.email_lower = ANY({_QUEUED_EMAILS})
  AND NOT EXISTS (SELECT 1 FROM supporter s WHERE s.account = c.account AND s.email_lower = c.email_lower)
  AND NOT EXISTS (SELECT 1 FROM registration r WHERE r.account = c.account AND r.email_lower = c.email_lower)
  AND NOT EXISTS (SELECT 1 FROM donation d WHERE d.account = c.account AND d.email_lower = c.email_lower
                  AND {purchaser_stands_for_donor("d")})
"""

_DELETE_ORPHANS_WITHOUT_EMAIL = f"""
DELETE FROM contact c
WHERE c.account = :account AND c.email_lower IS NULL AND c.classy_supporter_id = ANY({_QUEUED_SUPPORTERS})
  AND NOT EXISTS (SELECT 1 FROM supporter s WHERE s.account = c.account
                  AND s.classy_id = c.classy_supporter_id AND s.email_lower IS NULL)
"""

# A contact whose every source is marked deleted is marked too (and unmarked when one comes back).
_CONTACT_DELETIONS = contact_deletions_sql(_QUEUED_EMAILS, _QUEUED_SUPPORTERS)


def is_bad_value_error(exc: BaseException) -> bool:
    """A Postgres data exception (SQLSTATE class 22: out-of-range date, numeric overflow, …)."""
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return isinstance(exc, DBAPIError) and isinstance(sqlstate, str) and sqlstate.startswith("22")


# The columns the sync's own statements look rows up by: every indexed column, and the filters the merge,
# deletions and donor links add. Statistics of the other columns (names, addresses, payloads: most of the
# cost, sorting thousands of text values per column) are left to autovacuum, which analyzes the table
# fully once the import has grown it.
_PLANNER_COLUMNS = text("""
SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a
WHERE a.attrelid = CAST(:table AS regclass) AND a.attnum > 0 AND NOT a.attisdropped
  AND (a.attname IN ('deleted_at', 'organization_id')
       OR EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND a.attnum = ANY(i.indkey)))
""")


async def refresh_statistics(session: AsyncSession, tables: list[str]) -> None:
    """ANALYZE tables that a bulk import has grown, so the planner stops treating them as tiny.

    Autovacuum analyzes a table only after its next naptime (a minute by default); an import grows a
    fresh table tenfold in that time, and with statistics of an almost empty table the contact merge's
    lookups by email or supporter id scan the account's whole table on every page (quadratic). Tables
    locked by another ANALYZE (autovacuum, another replica) are skipped, never waited for.

    Only the columns rows are looked up by are analyzed (`_PLANNER_COLUMNS`; the row count is updated
    all the same): a full ANALYZE of 20k donations took 0.5-0.9 s, nearly all of it in statistics of
    columns no plan of the sync depends on; these columns take 45 ms.
    """
    for table in tables:
        columns = await session.scalar(_PLANNER_COLUMNS, {"table": table})
        await session.execute(text(f"ANALYZE (SKIP_LOCKED) {table} ({columns})"))


_TAKE_QUEUED = (
    # Per connection, emptied at each commit (and here, for a second merge in one transaction).
    "CREATE TEMPORARY TABLE IF NOT EXISTS merging (kind text NOT NULL, key text NOT NULL) "
    "ON COMMIT DELETE ROWS",
    "DELETE FROM merging",
    "WITH taken AS (DELETE FROM contact_refresh WHERE account = :account RETURNING kind, key) "
    "INSERT INTO merging SELECT kind, key FROM taken WHERE kind <> 'supporter_email' "
    # A supporter queued by its transactions stands for its email, as it is now.
    "UNION SELECT 'email', s.email_lower FROM taken t JOIN supporter s "
    "ON s.account = :account AND s.classy_id = t.key::bigint "
    "WHERE t.kind = 'supporter_email' AND s.email_lower IS NOT NULL",
)


async def has_queued_contacts(session: AsyncSession, *, account: str) -> bool:
    """Whether any page (of this run or of one that crashed) queued contacts for a merge."""
    statement = text("SELECT EXISTS (SELECT 1 FROM contact_refresh WHERE account = :account)")
    return bool(await session.scalar(statement, {"account": account}))


# The merge's steps in order, named (`merge_queued_contacts`, and the bench's floor, which times each).
MERGE_STEPS: tuple[tuple[str, str], ...] = (
    ("contacts by email", _MERGE_BY_EMAIL),
    ("contacts without email", _MERGE_SUPPORTERS_WITHOUT_EMAIL),
    ("donor links", _LINK_DONATIONS),
    ("orphans by email", _DELETE_ORPHANS_BY_EMAIL),
    ("orphans without email", _DELETE_ORPHANS_WITHOUT_EMAIL),
    ("deletion marks", _CONTACT_DELETIONS),
)


async def merge_queued_contacts(
    session: AsyncSession, *, account: str, after_step: Callable[[str], None] | None = None
) -> int:
    """Merge the contacts queued by page upserts, in the caller's transaction; returns keys merged.

    The keys are taken first (page transactions running meanwhile queue theirs for the next merge), and
    each step covers every taken key before the next starts: links must see every merged contact, and
    orphans are only orphans once every donation has moved. Merges of one account must not overlap.
    `after_step` is told each step's name once it has run ("queue taken" first): the bench's CPU split.
    """
    params = {"account": account}
    await session.execute(text(_TAKE_QUEUED[0]))
    await session.execute(text(_TAKE_QUEUED[1]))
    taken = await session.execute(text(_TAKE_QUEUED[2]), params)
    if after_step is not None:
        after_step("queue taken")
    for name, statement in MERGE_STEPS:
        await session.execute(text(statement), params)
        if after_step is not None:
            after_step(name)
    return int(getattr(taken, "rowcount", 0) or 0)
