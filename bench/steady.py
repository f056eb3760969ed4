"""Scenario 6, steady state: many small organizations, imported once, then kept current.

Every organization gets its own sandbox app and account, connected through the API like the tenants
scenario. Once every first import is done, rounds of incremental runs are started the way the scheduler
starts them in production (every integration's ``next_sync_at`` set to now; the service claims them at
its ``SYNC_CONCURRENCY``): first rounds in which Classy holds nothing new, then a round after a few
changes in each organization. For each round: the service's and Postgres's CPU seconds, Classy requests
by list, and the rows written per table (``pg_stat_user_tables``), per run. From the changed round's CPU
per run: how many organizations one replica keeps current at a 15-minute interval on one core.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg
import httpx

from bench.harness import (
    BenchError,
    Service,
    clear_sandbox_requests,
    connect,
    cpu_seconds,
    db_dsn,
    postgres_cpu_seconds,
)
from sandbox.server import SandboxHandle

# One small organization: ≈100 records, one page of each list.
ORG_SIZES = ("--supporters", "30", "--transactions", "60", "--registrations", "6", "--campaigns", "2",
             "--plans", "2")  # fmt: skip
INTERVAL_SECONDS = 900
# A few changes per organization and interval: two donations edited, one new, one supporter edited.
CHANGES = ({"resource": "transactions", "updates": 2, "inserts": 1}, {"resource": "supporters", "updates": 1})

# Permanent tables only (the merge's temporary table is per connection).
_WRITES = """
SELECT relname, n_tup_ins + n_tup_upd + n_tup_del AS n FROM pg_stat_user_tables
WHERE schemaname NOT LIKE 'pg_temp%'
"""
# A backend flushes its table counters at the end of a transaction, at most once a second, and a busy
# backlog when it has been idle for 10 s: wait that long before reading them.
STATS_FLUSH_SECONDS = 11.0


def _list_of(path: str) -> str:
    """`/2.0/organizations/7/transactions` → `transactions`; by-id reads → `<list> by id`."""
    parts = path.split("?")[0].strip("/").split("/")
    if len(parts) >= 4 and parts[1] == "organizations":
        return parts[3]
    return f"{parts[1]} by id" if len(parts) >= 3 else path


async def _writes(conn: asyncpg.Connection) -> dict[str, int]:
    await asyncio.sleep(STATS_FLUSH_SECONDS)
    await conn.execute("SELECT pg_stat_clear_snapshot()")
    return {r["relname"]: int(r["n"]) for r in await conn.fetch(_WRITES)}


def _round(svc: Service, sb: SandboxHandle, dsn: str, count: int, limit_seconds: float) -> dict[str, Any]:
    clear_sandbox_requests(sb)
    result = asyncio.run(_run_round(svc, dsn, count, limit_seconds))
    traffic = httpx.get(f"{sb.control_url}/requests", params={"limit": 100_000}, timeout=60).json()
    data = [e["path"] for e in traffic["requests"] if e["path"].startswith("/2.0/")]
    return {
        **result,
        "requests": len(data),
        "requests_per_run": len(data) / count,
        "requests_by_list_per_run": {k: v / count for k, v in sorted(Counter(map(_list_of, data)).items())},
        "rate_limited_429": traffic["rate_limited"],
    }


async def _run_round(svc: Service, dsn: str, count: int, limit_seconds: float) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        before_writes = await _writes(conn)
        last = await conn.fetchval("SELECT coalesce(max(id), 0) FROM sync_run")
        cpu0, pg0 = cpu_seconds(svc.pid), postgres_cpu_seconds()
        started = time.perf_counter()
        await conn.execute("UPDATE integration SET next_sync_at = now()")
        deadline = time.monotonic() + limit_seconds
        while True:
            done = await conn.fetchval(
                "SELECT count(*) FROM sync_run WHERE id > $1 AND status <> 'running'", last
            )
            if done >= count:
                break
            if time.monotonic() > deadline:
                raise BenchError(
                    f"only {done} of {count} incremental runs finished within {limit_seconds:.0f} s"
                )
            await asyncio.sleep(0.25)
        seconds = time.perf_counter() - started
        cpu, pg = cpu_seconds(svc.pid) - cpu0, postgres_cpu_seconds() - pg0
        statuses = Counter(
            r["status"] for r in await conn.fetch("SELECT status FROM sync_run WHERE id > $1", last)
        )
        after_writes = await _writes(conn)
    finally:
        await conn.close()
    writes = {t: after_writes.get(t, 0) - before_writes.get(t, 0) for t in after_writes}
    return {
        "runs": count,
        "statuses": dict(statuses),
        "seconds": seconds,
        "service_cpu_s": cpu,
        "postgres_cpu_s": pg,
        "cpu_ms_per_run": (cpu + pg) / count * 1000,
        "writes_per_run": {t: n / count for t, n in sorted(writes.items()) if n},
    }


def _change_everything(sb: SandboxHandle) -> None:
    def change(org: int) -> None:
        for body in CHANGES:
            url = f"{sb.control_url}/organizations/{org}/churn"
            httpx.post(url, json=body, timeout=30).raise_for_status()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(change, sb.organization_ids))


async def _wait_first_runs(dsn: str, count: int, limit_seconds: float) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + limit_seconds
        while time.monotonic() < deadline:
            row = await conn.fetchrow(
                "SELECT count(*) FILTER (WHERE status = 'succeeded') AS ok, "
                "count(*) FILTER (WHERE status NOT IN ('succeeded', 'running')) AS bad FROM sync_run"
            )
            if row["ok"] + row["bad"] >= count:
                return int(row["bad"])
            await asyncio.sleep(0.5)
    finally:
        await conn.close()
    raise BenchError(f"the first imports did not all finish within {limit_seconds:.0f} s")


def steady_state(svc: Service, sb: SandboxHandle, timeout: float) -> dict[str, Any]:
    """Connect every organization of `sb`, import them, then measure quiet and changed rounds."""
    dsn = db_dsn(svc.database)
    apps = []
    for i, org in enumerate(sb.organization_ids):
        app = {"client_id": f"steady-{i}", "client_secret": f"secret-{i}", "organization_ids": [org]}
        httpx.post(f"{sb.control_url}/apps", json=app, timeout=30).raise_for_status()
        apps.append((f"steady{i:04d}", org, app["client_id"], app["client_secret"]))
    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda a: connect(svc, sb, a[0], a[1], a[2], a[3]), apps))
    failed_imports = asyncio.run(_wait_first_runs(dsn, len(apps), timeout))
    imported = time.perf_counter() - started
    count = len(apps)
    quiet = [_round(svc, sb, dsn, count, timeout) for _ in range(2)]
    _change_everything(sb)
    changed = _round(svc, sb, dsn, count, timeout)
    per_run_s = changed["cpu_ms_per_run"] / 1000
    return {
        "organizations": count,
        "import_seconds": imported,
        "failed_imports": failed_imports,
        "quiet": quiet,
        "changed": changed,
        "changes_per_org": CHANGES,
        "orgs_per_core": INTERVAL_SECONDS / per_run_s if per_run_s else float("inf"),
        "quiet_orgs_per_core": INTERVAL_SECONDS / (quiet[-1]["cpu_ms_per_run"] / 1000),
    }
