"""End to end: the sandbox delivers signed events to the service over HTTP; hourly polling is not what
brings changes in (SYNC_INTERVAL_SECONDS=3600, the scheduler's default 2 s tick)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from sandbox.server import SandboxHandle
from tests.conftest import bearer
from tests.integration.sync.helpers import credentials, wait_until
from tests.integration.webhooks.conftest import SECRET, LiveService, event, signed

pytestmark = pytest.mark.slow
ADMIN = bearer("acme", "alice", "admin", name="Alice Admin")


async def _runs(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/apps/classy/sync-runs?limit=100", headers=ADMIN)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _idle_after_first_sync(client: httpx.AsyncClient, sandbox: SandboxHandle) -> None:
    assert (await client.post("/api/v1/apps/classy/connect", headers=ADMIN)).status_code == 200
    org = sandbox.organization_ids[0]
    saved = await client.put("/api/v1/apps/classy/credentials", headers=ADMIN, json=credentials(sandbox, org))
    assert saved.status_code == 200, saved.text

    async def first_done() -> bool:
        runs = await _runs(client)
        return bool(runs) and runs[0]["status"] == "succeeded"

    await wait_until(first_done, timeout=60)


async def _register(client: httpx.AsyncClient, sandbox: SandboxHandle) -> tuple[str, str]:
    """The service's webhook URL, registered in the sandbox for organization 0; (url, sandbox endpoint id)."""
    saved = await client.put("/api/v1/apps/classy/webhook", headers=ADMIN, json={"secret": SECRET})
    url: str = saved.json()["url"]
    assert sandbox.store is not None
    endpoint = sandbox.store.webhooks.register(url, SECRET, [sandbox.organization_ids[0]])
    return url, endpoint.id


async def _donation_ids(client: httpx.AsyncClient) -> set[int]:
    ids: set[int] = set()
    cursor = None
    while True:
        params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/donations", headers=ADMIN, params=params)).json()
        ids |= {d["classy_transaction_id"] for d in page["items"]}
        cursor = page["next_cursor"]
        if not cursor:
            return ids


async def test_a_delivered_event_brings_a_new_gift_into_the_api_within_10_seconds(
    live: LiveService, sandbox: SandboxHandle
) -> None:
    store = sandbox.store
    assert store is not None
    org = sandbox.organization_ids[0]
    async with httpx.AsyncClient(base_url=live.base_url, timeout=30) as client:
        await _idle_after_first_sync(client, sandbox)
        await _register(client, sandbox)
        before = len(await _runs(client))
        for _ in range(2):
            started = time.monotonic()
            gift = await asyncio.to_thread(store.create, org, "transactions", {"donation_gross_amount": 77.5})

            async def arrived(gift_id: int = gift["id"]) -> bool:
                return gift_id in await _donation_ids(client)

            await wait_until(arrived, timeout=10, interval=0.1)
            elapsed = time.monotonic() - started
            assert elapsed < 10, elapsed
        runs = await _runs(client)
        assert len(runs) >= before + 2
        assert {run["trigger"] for run in runs[: len(runs) - before]} == {"webhook"}
        hooks = store.webhooks.log
        assert hooks and all(entry["status"] == 204 for entry in hooks)
        shown = (await client.get("/api/v1/apps/classy/webhook", headers=ADMIN)).json()
        assert shown["last_event_at"] is not None
        metrics = (await client.get("/metrics")).text
        assert 'classy_sync_webhook_deliveries_total{outcome="sync_requested"}' in metrics
        assert "classy_sync_webhook_to_api_seconds_count" in metrics


async def test_a_refund_that_leaves_updated_at_alone_arrives_with_its_event(
    live: LiveService, sandbox: SandboxHandle
) -> None:
    """Classy does not confirm that a refund moves `updated_at` (CLASSY_API.md 7.1): the run an event
    starts re-reads the transactions refunded since the last sync, so the refund is served within 10 s
    all the same (the daily reconcile is no longer the only way in)."""
    store = sandbox.store
    assert store is not None
    org = sandbox.organization_ids[0]
    async with httpx.AsyncClient(base_url=live.base_url, timeout=30) as client:
        await _idle_after_first_sync(client, sandbox)
        await _register(client, sandbox)
        gift = next(t for t in store.dump(org, "transactions") if t["status"] == "success")
        started = time.monotonic()
        await asyncio.to_thread(store.refund, org, gift["id"], touch_updated_at=False)

        async def refunded() -> bool:
            params = {"status": "refunded", "limit": 500}
            page = (await client.get("/api/v1/donations", headers=ADMIN, params=params)).json()
            return gift["id"] in {d["classy_transaction_id"] for d in page["items"]}

        await wait_until(refunded, timeout=10, interval=0.1)
        assert time.monotonic() - started < 10
        assert (await _runs(client))[0]["trigger"] == "webhook"


async def test_a_burst_of_50_deliveries_starts_at_most_two_runs(
    live: LiveService, sandbox: SandboxHandle
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url, timeout=30) as client:
        await _idle_after_first_sync(client, sandbox)
        url, _ = await _register(client, sandbox)
        before = len(await _runs(client))
        body = event()
        sent_at: list[float] = []

        async def deliver(i: int) -> httpx.Response:
            await asyncio.sleep(i * 0.019)  # 50 deliveries spread over a second, as Svix would send them
            sent_at.append(time.monotonic())
            return await client.post(url, content=body, headers=signed(body, message_id=f"msg_burst_{i}"))

        answers = await asyncio.gather(*(deliver(i) for i in range(50)))
        assert max(sent_at) - min(sent_at) < 1.2
        assert [a.status_code for a in answers] == [204] * 50
        await asyncio.sleep(8)  # debounce, tick, run and any follow-up run
        new = (await _runs(client))[: len(await _runs(client)) - before]
        assert 1 <= len(new) <= 2, new
        assert all(run["trigger"] == "webhook" and run["status"] == "succeeded" for run in new)


async def test_forged_stale_replayed_paused_deliveries_start_no_run(
    live: LiveService, sandbox: SandboxHandle
) -> None:
    store = sandbox.store
    assert store is not None
    async with httpx.AsyncClient(base_url=live.base_url, timeout=30) as client:
        await _idle_after_first_sync(client, sandbox)
        url, _ = await _register(client, sandbox)
        body = event()
        good = signed(body, message_id="msg_once")
        assert (await client.post(url, content=body, headers=good)).status_code == 204

        async def one_more_run() -> bool:
            runs = await _runs(client)
            return len(runs) == 2 and runs[0]["status"] == "succeeded"

        await wait_until(one_more_run, timeout=10)
        rejected = [
            await client.post(url, content=body, headers=signed(body, secret="whsec_" + "D" * 32)),
            await client.post(url, content=body, headers=signed(body, timestamp=int(time.time()) - 600)),
        ]
        assert [r.status_code for r in rejected] == [401, 401]
        assert (await client.post(url, content=body, headers=good)).status_code == 204  # replay
        assert (await client.post("/api/v1/apps/classy/pause", headers=ADMIN)).status_code == 200
        await asyncio.to_thread(store.create, sandbox.organization_ids[0], "transactions", {})
        await asyncio.to_thread(store.create, sandbox.organization_ids[0], "supporters", {})

        async def delivered() -> bool:
            return len(store.webhooks.log) >= 2

        await wait_until(delivered, timeout=10)
        await asyncio.sleep(4)  # debounce and two scheduler ticks: nothing may start
        assert len(await _runs(client)) == 2
        assert all(entry["status"] == 204 for entry in store.webhooks.log)


async def test_an_event_during_a_run_makes_one_more_run_follow_it(
    live: LiveService, sandbox: SandboxHandle
) -> None:
    store = sandbox.store
    assert store is not None
    org = sandbox.organization_ids[0]
    async with httpx.AsyncClient(base_url=live.base_url, timeout=30) as client:
        await _idle_after_first_sync(client, sandbox)
        await _register(client, sandbox)
        before = len(await _runs(client))
        # Slow Classy: a run now takes a few seconds.
        fault = {"kind": "latency", "rate": 1.0, "latency_ms": 250, "path_prefix": "/2.0/"}
        assert (await client.post(f"{sandbox.control_url}/faults", json=fault)).status_code == 201
        await asyncio.to_thread(store.create, org, "supporters", {})

        async def running() -> bool:
            runs = await _runs(client)
            return len(runs) > before and runs[0]["status"] == "running"

        await wait_until(running, timeout=10, interval=0.05)
        gift = await asyncio.to_thread(store.create, org, "transactions", {"donation_gross_amount": 12.5})

        async def arrived() -> bool:
            return gift["id"] in await _donation_ids(client)

        await wait_until(arrived, timeout=30, interval=0.2)
        await client.delete(f"{sandbox.control_url}/faults")
        await asyncio.sleep(3)  # nothing more may follow
        new = (await _runs(client))[: len(await _runs(client)) - before]
        assert [run["trigger"] for run in new] == ["webhook", "webhook"], new
        assert all(run["status"] == "succeeded" for run in new)
