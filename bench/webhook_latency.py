"""``python -m bench.webhook_latency [--deliveries 20]``: delivery-to-API latency of Classy webhooks.

The service (``uvicorn app.main:app`` in a subprocess, hourly polling, the default 2 s scheduler tick)
is connected to a sandbox organization and its webhook is registered in the sandbox. Then, one at a
time, a gift is made in the sandbox, which delivers a signed ``transaction.created`` at once; the clock
runs from that mutation (the delivery follows within milliseconds) until ``GET /api/v1/donations``
lists the gift. Prints p50/p99 and the service's own histogram (``classy_sync_webhook_to_api_seconds``).
Uses the local Postgres like the other benchmarks (``BENCH_POSTGRES``; a ``classy_sync_bench_*`` database).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import re
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench.harness import BenchError, connect, create_db, drop_db, run_service, wait_for_run
from sandbox.server import run_sandbox_subprocess

SANDBOX_ARGS = ("--organizations", "1", "--supporters", "500", "--transactions", "1500", "--rate-limit", "0")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def _histogram(metrics: str) -> dict[str, float]:
    found = dict(re.findall(r"^classy_sync_webhook_to_api_seconds_(sum|count) ([0-9.e+-]+)$", metrics, re.M))
    return {key: float(value) for key, value in found.items()}


def measure(deliveries: int = 20, gap: float = 1.5) -> dict[str, Any]:
    """Run the scenario; returns the figures (seconds)."""
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    database = asyncio.run(create_db("webhooks"))
    try:
        with (
            run_sandbox_subprocess(*SANDBOX_ARGS) as sb,
            run_service(database, sb, SCHEDULER_TICK_SECONDS="2", SYNC_INTERVAL_SECONDS="3600") as svc,
            httpx.Client(base_url=svc.base_url, headers=svc.headers("acme"), timeout=30) as api,
            httpx.Client(base_url=sb.control_url, timeout=30) as control,
        ):
            org = sb.organization_ids[0]
            connect(svc, sb, "acme", org)
            wait_for_run(svc, "acme", timeout=300)
            saved = api.put("/api/v1/apps/classy/webhook", json={"secret": secret})
            if saved.status_code != 200:
                raise BenchError(f"saving the webhook secret failed: {saved.status_code} {saved.text}")
            path = "/" + saved.json()["url"].split("/", 3)[3]  # PUBLIC_URL is not the bench port
            control.post("/webhooks", json={"url": svc.base_url + path, "secret": secret}).raise_for_status()
            latencies: list[float] = []
            for _ in range(deliveries):
                since = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
                started = time.perf_counter()
                gift = control.post(f"/organizations/{org}/transactions", json={}).json()
                while True:
                    page = api.get("/api/v1/donations", params={"updated_since": since, "limit": 500}).json()
                    if any(d["classy_transaction_id"] == gift["id"] for d in page["items"]):
                        latencies.append(time.perf_counter() - started)
                        break
                    if time.perf_counter() - started > 60:
                        raise BenchError(f"gift {gift['id']} did not reach the API within 60 s")
                    time.sleep(0.02)
                time.sleep(gap)
            runs = api.get("/api/v1/apps/classy/sync-runs", params={"limit": 500}).json()["items"]
            histogram = _histogram(httpx.get(f"{svc.base_url}/metrics", timeout=10).text)
            hooks = control.get("/webhooks").json()
    finally:
        asyncio.run(drop_db(database))
    webhook_runs = [r for r in runs if r["trigger"] == "webhook"]
    return {
        "deliveries": deliveries,
        "p50": statistics.median(latencies),
        "p99": _percentile(latencies, 0.99),
        "max": max(latencies),
        "min": min(latencies),
        "webhook_runs": len(webhook_runs),
        "service_mean": histogram.get("sum", 0.0) / histogram["count"] if histogram.get("count") else None,
        "delivered": sum(e["delivered"] for e in hooks["endpoints"]),
        "failed": sum(e["failed"] for e in hooks["endpoints"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.webhook_latency", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--deliveries", type=int, default=20)
    args = parser.parse_args(argv)
    result = measure(args.deliveries)
    print(json.dumps(result, indent=2))
    with contextlib.suppress(KeyError):
        print(
            f"delivery → API over {result['deliveries']} deliveries: p50 {result['p50']:.2f} s, "
            f"p99 {result['p99']:.2f} s (min {result['min']:.2f}, max {result['max']:.2f}); "
            f"{result['webhook_runs']} webhook runs"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
