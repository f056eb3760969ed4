"""Load generator for the latency benchmark: fixed-rate GETs against the service, from its own process.

``python -m bench.load <json-config>`` sends requests at ``rate`` per second (open loop: a request is
started on schedule whether or not earlier ones returned, so a slow server cannot slow the load down)
alternating between the given paths, for ``seconds`` (or until stdin closes, with
``stop_on_stdin_eof``), then prints one JSON line
with each path's latencies (ms).

Each path is requested once, untimed, before the clock starts: the generator's own first request
imports httpx's transport and opens a connection, a 100-340 ms stall of this process that the first
timed requests used to carry (their latency was the load generator's start-up, not the service's).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import threading
import time
from typing import Any

import httpx


async def run(cfg: dict[str, Any]) -> dict[str, Any]:
    paths: list[str] = cfg["paths"]
    rate: float = cfg["rate"]
    seconds: float = cfg["seconds"]
    latencies: dict[str, list[float]] = {p: [] for p in paths}
    errors: dict[str, int] = {p: 0 for p in paths}
    stop = asyncio.Event()

    loop = asyncio.get_running_loop()

    def watch_stdin() -> None:  # a daemon thread: never keeps the process alive
        sys.stdin.read()
        loop.call_soon_threadsafe(stop.set)

    async def one(client: httpx.AsyncClient, path: str) -> None:
        started = time.perf_counter()
        try:
            response = await client.get(path)
            ok = response.status_code == 200
        except httpx.HTTPError:
            ok = False
        if ok:
            latencies[path].append((time.perf_counter() - started) * 1000)
        else:
            errors[path] += 1

    headers = {"Authorization": f"Bearer {cfg['token']}"}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(
        base_url=cfg["base_url"], headers=headers, timeout=30, limits=limits
    ) as client:
        for path in paths:  # warm-up, untimed (see the module's docstring)
            with contextlib.suppress(httpx.HTTPError):
                await client.get(path)
        if cfg.get("stop_on_stdin_eof"):
            threading.Thread(target=watch_stdin, daemon=True).start()
        tasks: set[asyncio.Task[None]] = set()
        start = time.perf_counter()
        i = 0
        while not stop.is_set() and time.perf_counter() - start < seconds:
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                    break
                except TimeoutError:
                    pass
            task = asyncio.create_task(one(client, paths[i % len(paths)]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
        elapsed = time.perf_counter() - start
        if tasks:
            await asyncio.wait(tasks, timeout=30)
    return {"latencies": latencies, "errors": errors, "sent": i, "elapsed": elapsed}


def main() -> None:
    cfg = json.loads(sys.argv[1])
    result = asyncio.run(run(cfg))
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
