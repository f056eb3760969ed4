"""The import's cost of durable page commits (issue #17): the shipped asynchronous commits vs durable.

Page commits are asynchronous (`SET LOCAL synchronous_commit = off`) and guarded by the commit ledger
(`app/sync/durability.py`); `SYNC_DURABLE_COMMITS=true` makes them wait for the WAL flush instead. This
imports the same sandbox data into a fresh database with each setting, alternating so drift on a shared
machine hits both alike, and reports the medians and their ratio. Only meaningful against a Postgres with
`fsync` on (the figures say whether it was).
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable
from typing import Any

import asyncpg

from bench.harness import SERVER_DSN

ROUNDS = 5


async def server_setting(name: str) -> str:
    conn = await asyncpg.connect(SERVER_DSN)
    try:
        return str(await conn.fetchval(f"SHOW {name}"))
    finally:
        await conn.close()


def measure(run_import: Callable[[bool], dict[str, Any]], rounds: int = ROUNDS) -> dict[str, Any]:
    """`run_import(durable)` imports once into a fresh database and returns its figures."""
    seconds: dict[str, list[float]] = {"async": [], "durable": []}
    records = 0
    for i in range(rounds):
        # Alternate which goes first, so neither always runs on a warmer cache.
        for durable in (False, True) if i % 2 == 0 else (True, False):
            result = run_import(durable)
            seconds["durable" if durable else "async"].append(result["seconds"])
            records = result["records"]
    med = {k: statistics.median(v) for k, v in seconds.items()}
    return {
        "records": records,
        "rounds": rounds,
        "fsync": asyncio.run(server_setting("fsync")),
        "async_s": seconds["async"],
        "durable_s": seconds["durable"],
        "async_median_s": med["async"],
        "durable_median_s": med["durable"],
        "ratio": med["durable"] / med["async"],
    }
