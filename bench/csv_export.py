"""Memory of the service while it exports donations as CSV (issue #11: 1,000,000 donations < 150 MB RSS).

Fills a fresh bench database with ``--rows`` donations (with campaign, fund, page and team names to join,
and a dedication on every tenth), starts the real service (``uvicorn app.main:app``) on it, downloads
``GET /api/v1/donations`` with ``Accept: text/csv`` while sampling the service's RSS, and prints the
figures as JSON. Runnable on its own:

    .venv/bin/python -m bench.csv_export --rows 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import asyncpg
import httpx

from bench.harness import RssSampler, create_db, db_dsn, drop_db, run_service
from sandbox.generate import Sizes
from sandbox.server import run_sandbox
from sandbox.store import SandboxConfig

ACCOUNT = "bench"

FILL = """
INSERT INTO campaign (account, classy_id, organization_id, name, raw, synced_at)
SELECT $1, c, 1, 'Campaign ' || c, '{}', now() FROM generate_series(1, 20) c;
INSERT INTO designation (account, classy_id, organization_id, name, raw, synced_at)
SELECT $1, d, 1, 'Fund ' || d, '{}', now() FROM generate_series(1, 10) d;
INSERT INTO fundraising_team (account, classy_id, organization_id, name, raw, synced_at)
SELECT $1, t, 1, 'Team ' || t, '{}', now() FROM generate_series(1, 50) t;
INSERT INTO fundraising_page (account, classy_id, organization_id, title, raw, synced_at)
SELECT $1, p, 1, 'Page ' || p, '{}', now() FROM generate_series(1, 500) p;
"""
FILL_DONATIONS = """
INSERT INTO donation (account, classy_transaction_id, organization_id, classy_campaign_id, designation_id,
    classy_fundraising_page_id, classy_fundraising_team_id, amount, total_amount, fee_amount, net_amount,
    currency, status, frequency, kind, payment_type, payment_method, card_type, card_last_four,
    donor_covered_fees, classy_fees_amount, processor_fees_amount, raw_currency, raw_amount, company_name,
    hide_amount, comment, dedication, first_name, last_name, email, email_lower, purchased_at, created_at,
    updated_at, raw, synced_at)
SELECT $1, n, 1, 1 + n % 20, 1 + n % 10, CASE WHEN n % 3 = 0 THEN 1 + n % 500 END,
    CASE WHEN n % 3 = 0 THEN 1 + n % 50 END, 50.00, 52.50, 2.50, 47.50, 'USD', 'success', 'one-time',
    'donation', 'Credit Card', 'Stripe', 'Visa', lpad((n % 10000)::text, 4, '0'), n % 2 = 0, 0.00, 2.50,
    'USD', 50.00, CASE WHEN n % 17 = 0 THEN 'Acme, "Inc."' END, false,
    CASE WHEN n % 13 = 0 THEN '=HYPERLINK("x")' END,
    CASE WHEN n % 10 = 0 THEN jsonb_build_object('type', 'honor', 'honoree_name', 'Grandma Rose',
        'name', 'Ann Lee', 'email_address', 'ann@example.org') END,
    'First' || n, 'Last' || n, 'p' || n || '@example.org', 'p' || n || '@example.org',
    timestamptz '2024-01-01' + n * interval '1 second', timestamptz '2024-01-01' + n * interval '1 second',
    timestamptz '2024-01-01' + n * interval '1 second', '{}', now()
FROM generate_series($2::bigint, $3::bigint) n
"""


async def fill(database: str, rows: int) -> None:
    conn = await asyncpg.connect(db_dsn(database))
    try:
        for statement in FILL.strip().split(";\n"):
            await conn.execute(statement.rstrip(";"), ACCOUNT)
        for start in range(1, rows + 1, 200_000):
            await conn.execute(FILL_DONATIONS, ACCOUNT, start, min(start + 199_999, rows))
        await conn.execute("ANALYZE donation")
    finally:
        await conn.close()


def export(base_url: str, headers: dict[str, str], pid: int) -> dict[str, Any]:
    sampler = RssSampler(pid, interval=0.1)
    baseline = sampler.current_mb()
    sampler.start()
    started = time.monotonic()
    lines = 0
    size = 0
    with (
        httpx.Client(base_url=base_url, timeout=None) as http,
        http.stream("GET", "/api/v1/donations", headers={**headers, "Accept": "text/csv"}) as response,
    ):
        response.raise_for_status()
        for chunk in response.iter_bytes():
            size += len(chunk)
            lines += chunk.count(b"\r\n")
    seconds = time.monotonic() - started
    memory = sampler.stop()
    return {
        "csv_lines": lines,
        "csv_mb": round(size / 1024 / 1024, 1),
        "seconds": round(seconds, 1),
        "rows_per_second": round((lines - 1) / seconds) if seconds else None,
        "rss_before_mb": round(baseline, 1),
        "rss_peak_mb": round(memory["peak_mb"], 1),
    }


async def main(rows: int) -> dict[str, Any]:
    database = await create_db("csv_export")
    try:
        tiny = Sizes(supporters=1, transactions=1, registrations=1, campaigns=1, plans=1)
        with (
            run_sandbox(SandboxConfig(sizes=tiny, organizations=1)) as sandbox,
            run_service(database, sandbox) as service,
        ):
            started = time.monotonic()
            await fill(database, rows)
            filled = time.monotonic() - started
            result = await asyncio.to_thread(export, service.base_url, service.headers(ACCOUNT), service.pid)
            return {"donations": rows, "fill_seconds": round(filled, 1), **result}
    finally:
        await drop_db(database)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.rows)), indent=2))
