"""The Postgres ceiling: the same rows, already in memory, upserted the fastest way asyncpg allows.

Per chunk of rows: COPY (binary) into a temporary staging table whose columns are the JSON text of each
field, then one ``INSERT … SELECT <casts> … ON CONFLICT (account, key) DO UPDATE … WHERE raw IS DISTINCT
FROM`` into our real tables (migrated schema, same indexes). Values travel as text and are cast in SQL,
the fastest variant in docs/performance-anchors.md. No contact merge, no checkpoints: pure writing.

Also measures the mapping alone: our per-page SQL mapping expressions evaluated over page-sized JSON
documents without writing anything (the "map" share of the split).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from app.db.repositories.classy_columns import ResourceMapping
from app.sync.streams import STREAMS

ACCOUNT = "ceiling"
CHUNK = 10_000
_PATH = re.compile(r"\(r((?:->'[^']+')*)->>'([^']+)'\)")


@dataclass(frozen=True)
class Column:
    name: str
    path: tuple[str, ...]
    kind: str  # text | email | bigint | money | timestamptz | boolean | items


def columns_of(mapping: ResourceMapping) -> list[Column]:
    """Read each column's JSON path and type back from the mapping's SQL expression."""
    out = []
    for name, column in mapping.columns.items():
        expr = column.sql(safe=False)
        if "jsonb_typeof" in expr:
            out.append(Column(name, ("items",), "items"))
            continue
        match = _PATH.search(expr)
        if match is None:
            raise ValueError(f"cannot read the JSON path of {mapping.table}.{name}: {expr}")
        path = (*re.findall(r"'([^']+)'", match.group(1)), match.group(2))
        if "::bigint" in expr:
            kind = "bigint"
        elif "::numeric" in expr:
            kind = "money"
        elif "::timestamptz" in expr:
            kind = "timestamptz"
        elif "IN ('true'" in expr:
            kind = "boolean"
        elif expr.startswith("lower("):
            kind = "email"
        else:
            kind = "text"
        out.append(Column(name, path, kind))
    return out


def _cast(col: Column) -> str:
    c = f"s.c_{col.name}"
    return {
        "text": f"nullif(btrim({c}), '')",
        "email": f"lower(nullif(btrim({c}), ''))",
        "bigint": f"{c}::bigint",
        "money": f"round({c}::numeric, 2)",
        "timestamptz": f"{c}::timestamptz",
        "boolean": f"{c}::boolean",
        "items": "(s.raw::jsonb)->'items'",
    }[col.kind]


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
    cols = [c for c in columns_of(mapping) if c.kind != "items"]
    stage = f"stage_{mapping.table}"
    await conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} (k bigint, raw text, "
        + ", ".join(f"c_{c.name} text" for c in cols)
        + ")"
    )
    all_cols = columns_of(mapping)
    target = ", ".join(c.name for c in all_cols)
    names = [c.name for c in all_cols]
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in [*names, "organization_id", "raw"])
    insert = (
        f"INSERT INTO {mapping.table} (account, organization_id, {mapping.key_column}, {target}, raw, "
        "synced_at) "
        f"SELECT $1, $2, s.k, {', '.join(_cast(c) for c in all_cols)}, s.raw::jsonb, now() FROM {stage} s "
        f"ON CONFLICT (account, {mapping.key_column}) DO UPDATE SET {updates}, synced_at = now() "
        f"WHERE {mapping.table}.raw IS DISTINCT FROM EXCLUDED.raw"
    )
    getters = [_getter(c) for c in cols]
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
