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

from app.db.repositories import classy_columns
from app.db.repositories.classy_columns import ResourceMapping
from app.sync.streams import STREAMS

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


async def ceiling(dsn: str, data: dict[str, list[dict[str, Any]]], organization_id: int) -> dict[str, float]:
    """Seconds to upsert every stream's records (already in memory) into the migrated database at ``dsn``."""
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        for stream in STREAMS:
            await upsert_all(conn, stream.mapping, data[stream.name], organization_id)
        seconds = time.perf_counter() - started
        rows = 0
        for stream in STREAMS:
            rows += await conn.fetchval(
                f"SELECT count(*) FROM {stream.mapping.table} WHERE account = $1", ACCOUNT
            )
    finally:
        await conn.close()
    return {"seconds": seconds, "rows": rows}


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


def fetch_truth(control_url: str, organization_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every record of the organization from the sandbox's control API (the rows the ceiling writes)."""
    import httpx

    out: dict[str, list[dict[str, Any]]] = {}
    with httpx.Client(timeout=300) as http:
        for stream in STREAMS:
            url = f"{control_url}/organizations/{organization_id}/{stream.resource}/all"
            out[stream.name] = orjson.loads(http.get(url).content)
    return out
