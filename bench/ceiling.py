"""The Postgres ceiling: the same rows, already in memory, upserted the fastest way asyncpg allows.

Per chunk of rows: COPY (binary) into a temporary staging table whose columns are the JSON text of each
field, then one ``INSERT … SELECT <casts> … ON CONFLICT (account, key) DO UPDATE … WHERE raw IS DISTINCT
FROM`` into our real tables (migrated schema, same indexes). Values travel as text and are cast in SQL,
the fastest variant in docs/performance-anchors.md; computed columns (a transaction's kind, its
dedication, a card's last four digits) are the mapping's own SQL over the staged record, so the ceiling
writes exactly the rows the import writes (tests/integration/db/test_bench_ceiling.py). No contact
merge, no checkpoints: pure writing.

Also measures the mapping alone: our per-page SQL mapping expressions evaluated over page-sized JSON
documents without writing anything (the "map" share of the split).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
from sqlalchemy import text as sql_text
from sqlalchemy.ext.asyncio import AsyncSession

from app.classy.client import ClassyClient
from app.classy.ratelimit import RateLimiter
from app.db.repositories import classy_columns
from app.db.repositories.classy_columns import ResourceMapping
from app.db.repositories.records import merge_queued_contacts
from app.db.session import create_engine
from app.sync.engine import PER_PAGE
from app.sync.streams import STREAMS
from app.sync.window import SORT

ACCOUNT = "ceiling"
CHUNK = 10_000
_PATH = re.compile(r"\(r((?:->'[^']+')*)->>'([^']+)'\)")


@dataclass(frozen=True)
class Column:
    name: str
    path: tuple[str, ...]
    kind: str  # text | email | bigint | money | timestamptz | boolean | date | sql
    expr: str = ""  # kind "sql": the mapping's own expression over the record `r`


# The mapping's simple column builders, each with the cast the ceiling applies to the staged text. A
# column is staged as text only when its builder, given the column's path, gives back exactly the
# mapping's column; any other column (a computed one: a kind, a dedication, the last four digits of a
# card, a JSON array, or a builder this file does not know yet) is the mapping's own SQL over the
# record, so the ceiling always writes what the import writes, typed as the table wants it.
_SIMPLE: dict[str, tuple[Callable[[str], classy_columns.Column], str]] = {
    "text": (classy_columns.text, "nullif(btrim({c}), '')"),
    "email": (classy_columns.lower_email, "lower(nullif(btrim({c}), ''))"),
    "bigint": (classy_columns.bigint, "{c}::bigint"),
    "money": (classy_columns.money, "round({c}::numeric, 2)"),
    "timestamptz": (classy_columns.timestamp, "{c}::timestamptz"),
    "boolean": (classy_columns.boolean, "{c}::boolean"),
    "date": (classy_columns.date, "{c}::date"),
}


def columns_of(mapping: ResourceMapping) -> list[Column]:
    """Each column's JSON path and type, read back from the mapping's SQL expression."""
    out = []
    for name, column in mapping.columns.items():
        expr = column.sql(safe=False)
        match = _PATH.search(expr)
        path = (*re.findall(r"'([^']+)'", match.group(1)), match.group(2)) if match else ()
        field = ".".join(path)
        kind = next((k for k, (build, _) in _SIMPLE.items() if path and build(field) == column), "sql")
        out.append(Column(name, path if kind != "sql" else (), kind, expr if kind == "sql" else ""))
    return out


def _cast(col: Column) -> str:
    if col.kind == "sql":
        return col.expr
    return _SIMPLE[col.kind][1].format(c=f"s.c_{col.name}")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if value is True:
        return "true"
    if value is False:
        return "false"
    return value if isinstance(value, str) else str(value)


def _getter(col: Column) -> Any:
    if len(col.path) == 1:
        key = col.path[0]
        return lambda r: _text(r.get(key))

    def nested(r: dict[str, Any]) -> str | None:
        value: Any = r
        for part in col.path:
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return _text(value)

    return nested


async def upsert_all(conn: asyncpg.Connection, mapping: ResourceMapping, records: list[dict[str, Any]],
                     organization_id: int) -> None:  # fmt: skip
    all_cols = columns_of(mapping)
    staged = [c for c in all_cols if c.kind != "sql"]
    stage = f"stage_{mapping.table}"
    # The record travels once, as jsonb (parsed by COPY): computed columns and the stored payload read it.
    await conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} (k bigint, raw jsonb"
        + "".join(f", c_{c.name} text" for c in staged)
        + ")"
    )
    target = ", ".join(c.name for c in all_cols)
    names = [c.name for c in all_cols]
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in [*names, "organization_id", "raw"])
    insert = (
        f"INSERT INTO {mapping.table} (account, organization_id, {mapping.key_column}, {target}, raw, "
        "synced_at) "
        f"SELECT $1, $2, s.k, {', '.join(_cast(c) for c in all_cols)}, {mapping.raw_sql()}, now() "
        f"FROM (SELECT t.*, t.raw AS r FROM {stage} t) s "
        f"ON CONFLICT (account, {mapping.key_column}) DO UPDATE SET {updates}, synced_at = now() "
        f"WHERE {mapping.table}.raw IS DISTINCT FROM EXCLUDED.raw"
    )
    getters = [_getter(c) for c in staged]
    for start in range(0, len(records), CHUNK):
        chunk = records[start : start + CHUNK]
        rows = [(int(r["id"]), orjson.dumps(r).decode(), *(g(r) for g in getters)) for r in chunk]
        async with conn.transaction():
            await conn.execute(f"TRUNCATE {stage}")
            await conn.copy_records_to_table(stage, records=rows)
            await conn.execute(insert, ACCOUNT, organization_id)


async def ceiling(dsn: str, data: dict[str, list[dict[str, Any]]], organization_id: int,
                  postgres_cpu: Callable[[], float] = lambda: 0.0) -> dict[str, float]:  # fmt: skip
    """Seconds to upsert every stream's records (already in memory) into the migrated database at ``dsn``,
    and the CPU seconds it took: Postgres's (`postgres_cpu`, a counter) and this process's (staging)."""
    conn = await asyncpg.connect(dsn)
    try:
        cpu0, own0 = postgres_cpu(), time.process_time()
        started = time.perf_counter()
        for stream in STREAMS:
            await upsert_all(conn, stream.mapping, data[stream.name], organization_id)
        seconds = time.perf_counter() - started
        cpu, own = postgres_cpu() - cpu0, time.process_time() - own0
        rows = 0
        for stream in STREAMS:
            rows += await conn.fetchval(
                f"SELECT count(*) FROM {stream.mapping.table} WHERE account = $1", ACCOUNT
            )
    finally:
        await conn.close()
    return {"seconds": seconds, "rows": rows, "postgres_cpu_s": cpu, "stage_cpu_s": own}


async def map_only(dsn: str, data: dict[str, list[dict[str, Any]]], per_page: int = 100) -> dict[str, float]:
    """Postgres time to evaluate our mapping SQL over 100-record page documents, without writing."""
    conn = await asyncpg.connect(dsn)
    try:
        total = 0.0
        encode = 0.0
        for stream in STREAMS:
            exprs = ", ".join(c.sql(safe=False) for c in stream.mapping.columns.values())
            sql = f"SELECT count(*) FROM (SELECT {exprs} FROM jsonb_array_elements($1::jsonb) AS e(r)) x"
            records = data[stream.name]
            for start in range(0, len(records), per_page):
                t0 = time.perf_counter()
                payload = orjson.dumps(records[start : start + per_page]).decode()
                t1 = time.perf_counter()
                await conn.fetchval(sql, payload)
                total += time.perf_counter() - t1
                encode += t1 - t0
    finally:
        await conn.close()
    return {"map_seconds": total, "encode_seconds": encode}


# Every key the import's pages queue for the contact merge (records.py `_queue_people_sql`), queued at once.
_QUEUE_EVERYONE = f"""
INSERT INTO contact_refresh (account, kind, key)
SELECT DISTINCT '{ACCOUNT}', kind, key FROM (
    SELECT 'email', email_lower FROM supporter WHERE account = '{ACCOUNT}' AND email_lower IS NOT NULL
    UNION ALL SELECT 'supporter', classy_id::text FROM supporter WHERE account = '{ACCOUNT}'
    UNION ALL SELECT 'email', email_lower FROM registration
        WHERE account = '{ACCOUNT}' AND email_lower IS NOT NULL
    UNION ALL SELECT 'email', email_lower FROM donation
        WHERE account = '{ACCOUNT}' AND email_lower IS NOT NULL AND classy_supporter_id IS NULL
    UNION ALL SELECT 'transaction', classy_transaction_id::text FROM donation WHERE account = '{ACCOUNT}'
) q(kind, key)
"""


async def merge_once(url: str, postgres_cpu: Callable[[], float]) -> dict[str, Any]:
    """After `ceiling`: every person queued at once and merged in one pass of the import's own merge
    (contacts, donor links, orphans, deletion marks). The least the merge the contract asks for costs
    with our SQL: no batch sees a person twice. Returns the pass's Postgres CPU seconds, in all and per
    step (`records.MERGE_STEPS`)."""
    steps: dict[str, float] = {}
    engine = create_engine(url)
    try:
        async with AsyncSession(engine) as session:
            await session.execute(sql_text(_QUEUE_EVERYONE))
            await session.commit()
            cpu0 = last = postgres_cpu()

            def step_done(name: str) -> None:
                nonlocal last
                now = postgres_cpu()
                steps[name], last = now - last, now

            await merge_queued_contacts(session, account=ACCOUNT, after_step=step_done)
            await session.commit()
            cpu = postgres_cpu() - cpu0
            linked = await session.scalar(
                sql_text(f"SELECT count(contact_id) FROM donation WHERE account = '{ACCOUNT}'")
            )
    finally:
        await engine.dispose()
    return {"merge_postgres_cpu_s": cpu, "merge_steps_cpu_s": steps, "merge_linked": float(linked or 0)}


async def write_contacts(dsn: str, postgres_cpu: Callable[[], float]) -> dict[str, float]:
    """After `merge_once`: the merged contacts written again, under another account, the fastest way
    (one COPY straight into the table, its indexes and change-feed trigger included): the least that
    storing the people the API serves costs, however they are merged."""
    conn = await asyncpg.connect(dsn)
    try:
        columns = [
            r["attname"]
            for r in await conn.fetch(
                "SELECT attname FROM pg_attribute WHERE attrelid = 'contact'::regclass AND attnum > 0 "
                "AND NOT attisdropped AND attname NOT IN ('id', 'account') ORDER BY attnum"
            )
        ]
        rows = await conn.fetch(f"SELECT {', '.join(columns)} FROM contact WHERE account = $1", ACCOUNT)
        cpu0 = postgres_cpu()
        async with conn.transaction():
            await conn.copy_records_to_table(
                "contact",
                records=[(ACCOUNT + "-people", *row) for row in rows],
                columns=["account", *columns],
            )
        cpu = postgres_cpu() - cpu0
    finally:
        await conn.close()
    return {"contacts_postgres_cpu_s": cpu, "contacts": float(len(rows))}


async def fetch_only(api_url: str, token_url: str, client_id: str, client_secret: str,
                     organization_id: int) -> dict[str, float]:  # fmt: skip
    """Our Classy client reading every page the import reads (same lists, page size, sort and `with`),
    decoded into pages and dropped: the least CPU the service can spend receiving the records. CPU
    seconds of this process (the sandbox serves from another)."""
    records = 0
    cpu0 = time.process_time()
    async with ClassyClient(
        client_id=client_id,
        client_secret=client_secret,
        api_url=api_url,
        token_url=token_url,
        limiter=RateLimiter(1_000_000, burst=1_000),
    ) as classy:
        await classy.fetch_app_token()
        for stream in STREAMS:
            pages = classy.iter_pages(
                stream.path(organization_id), per_page=PER_PAGE, sort=SORT, with_=stream.with_
            )
            async for page in pages:
                records += len(page.data)
    return {"fetch_cpu_s": time.process_time() - cpu0, "fetch_records": float(records)}


def fetch_truth(control_url: str, organization_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every record of the organization from the sandbox's control API (the rows the ceiling writes)."""
    import httpx

    out: dict[str, list[dict[str, Any]]] = {}
    with httpx.Client(timeout=300) as http:
        for stream in STREAMS:
            url = f"{control_url}/organizations/{organization_id}/{stream.resource}/all"
            out[stream.name] = orjson.loads(http.get(url).content)
    return out
