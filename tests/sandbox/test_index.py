"""The updated_at index answers the sync's query exactly like a brute-force scan."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest

from sandbox.query import parse_filter, parse_sort
from sandbox.server import SandboxHandle
from sandbox.store import SandboxStore
from sandbox.timefmt import format_ts, parse_filter_ts
from tests.sandbox.conftest import small_config

pytestmark = pytest.mark.timeout(120)
SORTS = ["updated_at:asc,id:asc", "updated_at", "updated_at:desc,id:desc", "id", "id:desc", ""]


def reference(rows: list[dict[str, Any]], conds: list[tuple[str, str, int]], sort: str) -> list[int]:
    """Independent brute force over the dump: SQL null semantics, nulls first ascending."""
    ops = {
        ">=": lambda a, b: a >= b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        "<": lambda a, b: a < b,
        "=": lambda a, b: a == b,
    }
    out = []
    for r in rows:
        ok = True
        for field, op, x in conds:
            v = r[field]
            if v is None:
                ok = False
                break
            ok = ok and ops[op](parse_filter_ts(v) if field == "updated_at" else v, x)
        if ok:
            out.append(r)
    key = {
        "updated_at:asc,id:asc": lambda r: (r["updated_at"] is not None, r["updated_at"] or "", r["id"]),
        "updated_at": lambda r: (r["updated_at"] is not None, r["updated_at"] or "", r["id"]),
        "id": lambda r: r["id"],
        "": lambda r: r["id"],
    }
    if sort == "updated_at:desc,id:desc":
        out.sort(key=lambda r: (r["updated_at"] is not None, r["updated_at"] or "", r["id"]), reverse=True)
    elif sort == "id:desc":
        out.sort(key=lambda r: r["id"], reverse=True)
    else:
        out.sort(key=key[sort])
    return [r["id"] for r in out]


def random_query(rng: random.Random, rows: list[dict[str, Any]]) -> tuple[list[tuple[str, str, int]], str]:
    stamps = [parse_filter_ts(r["updated_at"]) for r in rows if r["updated_at"]]
    sort = rng.choice(SORTS)
    field = "id" if sort.startswith("id") else "updated_at"
    pool = [r["id"] for r in rows] if field == "id" else stamps
    conds = []
    for _ in range(rng.choice((0, 1, 1, 2))):
        conds.append(
            (field, rng.choice((">=", ">", "<=", "<", "=")), rng.choice(pool) + rng.choice((-1, 0, 0, 1)))
        )
    return conds, sort


def as_filter(conds: list[tuple[str, str, int]]) -> str:
    return ",".join(f"{f}{op}{format_ts(x) if f == 'updated_at' else x}" for f, op, x in conds)


def test_index_matches_scan_under_mutation() -> None:
    store = SandboxStore(small_config())
    rng = random.Random(11)
    org = next(iter(store.orgs))
    coll = store.collection(org, "supporters")
    assert coll is not None
    for round_ in range(300):
        if round_ % 10 == 0:  # mutate: bumps, explicit past stamps, nulls, inserts, deletes
            rid = rng.choice(coll.ids)
            choice = rng.random()
            if choice < 0.4:
                store.update(org, "supporters", rid, {"opt_in": True})
            elif choice < 0.6:
                store.update(org, "supporters", rid, {"updated_at": None})
            elif choice < 0.8:
                store.update(org, "supporters", rid, {"updated_at": "2022-05-05T05:05:05+0000"})
            elif choice < 0.9:
                store.create(org, "supporters", {})
            else:
                store.delete(org, "supporters", rid)
        rows = store.dump(org, "supporters")
        conds, sort = random_query(rng, rows)
        expected = reference(rows, conds, sort)
        per_page = rng.choice((1, 7, 20, 100))
        page = rng.randint(1, max(1, len(expected) // per_page + 2))
        parsed, keys = parse_filter("supporters", as_filter(conds)), parse_sort("supporters", sort)
        total, recs = coll.select(parsed, keys, page, per_page)
        scan_total, scan = coll.select(parsed, keys, page, per_page, use_index=False)
        window = expected[(page - 1) * per_page : page * per_page]
        assert total == scan_total == len(expected), (conds, sort)
        assert [r.id for r in recs] == [r.id for r in scan] == window, (conds, sort, page, per_page)


async def test_http_sync_query_matches_brute_force(shared: SandboxHandle, api: httpx.AsyncClient) -> None:
    rng = random.Random(5)
    org = shared.organization_ids[1]
    async with httpx.AsyncClient(timeout=30) as c:
        rows = (await c.get(f"{shared.control_url}/organizations/{org}/transactions/all")).json()
    for _ in range(40):
        conds, sort = random_query(rng, rows)
        expected = reference(rows, conds, sort)
        per_page = rng.choice((10, 100))
        page = rng.randint(1, max(1, len(expected) // per_page + 1))
        params = {"per_page": per_page, "page": page}
        if sort:
            params["sort"] = sort
        if conds:
            params["filter"] = as_filter(conds)
        body = (await api.get(f"/organizations/{org}/transactions", params=params)).json()
        assert body["total"] == len(expected)
        assert [r["id"] for r in body["data"]] == expected[(page - 1) * per_page : page * per_page]
