"""Measure how fast the sandbox serves the sync's heaviest page.

``python -m sandbox.bench [--seconds 10] [--transactions 50000]`` starts ``python -m sandbox`` in a
subprocess and reads 100-record transaction pages with ``with=items`` (the sync's query: filter on
updated_at, sorted updated_at:asc,id:asc) from one httpx client over loopback, sequentially.
"""

from __future__ import annotations

import argparse
import time

import httpx

from sandbox.server import run_sandbox_subprocess


def measure(seconds: float, transactions: int) -> dict[str, float]:
    """Pages per second (and records per second, bytes per page) for one sequential client."""
    with run_sandbox_subprocess(
        "--organizations",
        "1",
        "--transactions",
        str(transactions),
        "--supporters",
        str(max(transactions // 2, 10)),
        "--rate-limit",
        "0",
    ) as sb:
        with httpx.Client(timeout=30) as client:
            token = client.post(
                sb.token_url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": sb.client_id,
                    "client_secret": sb.client_secret,
                },
            ).json()["access_token"]
            client.headers["Authorization"] = f"Bearer {token}"
            url = f"{sb.api_url}/organizations/{sb.organization_ids[0]}/transactions"
            params: dict[str, str | int] = {
                "filter": "updated_at>=2000-01-01T00:00:00+0000",
                "sort": "updated_at:asc,id:asc",
                "with": "items",
                "per_page": 100,
            }
            last_page = client.get(url, params={**params, "page": 1}).json()["last_page"]
            pages = records = size = 0
            start = time.perf_counter()
            while time.perf_counter() - start < seconds:
                r = client.get(url, params={**params, "page": pages % last_page + 1})
                r.raise_for_status()
                records += len(r.json()["data"])
                size += len(r.content)
                pages += 1
            elapsed = time.perf_counter() - start
            log = client.get(f"{sb.control_url}/requests", params={"limit": 100_000}).json()["requests"]
            served = [e["duration_ms"] for e in log if e["path"].endswith("/transactions")]
    return {
        "pages_per_s": pages / elapsed,
        "records_per_s": records / elapsed,
        "bytes_per_page": size / pages,
        "server_ms_per_page": sum(served) / max(len(served), 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m sandbox.bench")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--transactions", type=int, default=50_000)
    args = p.parse_args()
    result = measure(args.seconds, args.transactions)
    line = (
        f"{result['pages_per_s']:.0f} pages/s, {result['records_per_s']:.0f} records/s, "
        f"{result['bytes_per_page'] / 1024:.0f} KiB/page, server {result['server_ms_per_page']:.2f} ms/page"
    )
    print(line)  # noqa: T201


if __name__ == "__main__":
    main()
