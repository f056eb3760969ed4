"""API.md §3: `POST /sync` → 202 and starts a sync now; a second one while it runs → 409.

The run is claimed by the scheduler a moment after the 202; a second request in that moment must
already see the first (an integrator's double click, a script's retry), and `sync_running` says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from sandbox.server import SandboxHandle
from tests.integration.api.lifecycle_helpers import ADMIN, MEMBER, api, classy_settings, creds, status


@pytest.fixture
async def live(
    db: AsyncEngine, sandbox: SandboxHandle, database_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = classy_settings(
        database_url,
        api_url=sandbox.api_url,
        token_url=sandbox.token_url,
        authorize_url=sandbox.authorize_url,
        SCHEDULER_ENABLED=True,
        SCHEDULER_TICK_SECONDS=60,
    )
    async with api(settings) as client:
        yield client


async def _runs(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/apps/classy/sync-runs", headers=MEMBER)
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _settled(client: httpx.AsyncClient, count: int) -> list[dict[str, Any]]:
    async with asyncio.timeout(90):  # generous: a loaded CI machine, not a slow service, is the risk
        while True:
            runs = await _runs(client)
            if len(runs) >= count and all(run["status"] != "running" for run in runs):
                if not (await status(client))["sync_running"]:
                    return runs
            await asyncio.sleep(0.05)


async def test_second_manual_sync_right_after_the_first_is_409(
    live: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    await live.post("/api/v1/apps/classy/connect", headers=ADMIN)
    body = creds(sandbox.client_id, sandbox.client_secret, 82364)
    assert (await live.put("/api/v1/apps/classy/credentials", headers=ADMIN, json=body)).status_code == 200
    await _settled(live, 1)
    # Every Classy request now takes a while: the manual run lasts long enough to be seen.
    httpx.post(
        f"{sandbox.control_url}/faults", json={"kind": "latency", "latency_ms": 150, "rate": 1.0}
    ).raise_for_status()
    first = await live.post("/api/v1/apps/classy/sync", headers=ADMIN)
    assert first.status_code == 202, first.text
    assert first.json()["sync_running"] is True and first.json()["trigger"] == "manual"
    assert (await status(live, MEMBER))["sync_running"] is True
    second = await live.post("/api/v1/apps/classy/sync", headers=ADMIN)
    assert second.status_code == 409, second.text
    assert second.json()["code"] == "sync_running" and second.json()["detail"].endswith(".")
    httpx.delete(f"{sandbox.control_url}/faults").raise_for_status()
    runs = await _settled(live, 2)
    assert [run["trigger"] for run in runs] == ["manual", "initial"]
    assert all(run["status"] == "succeeded" for run in runs)
    assert (await live.post("/api/v1/apps/classy/sync", headers=ADMIN)).status_code == 202


async def test_without_a_scheduler_requests_do_not_count_as_running(
    sandbox: SandboxHandle, db: AsyncEngine, database_url: str
) -> None:
    """SCHEDULER_ENABLED=false: nothing here will run a request, so it neither blocks nor shows."""
    settings = classy_settings(
        database_url,
        api_url=sandbox.api_url,
        token_url=sandbox.token_url,
        authorize_url=sandbox.authorize_url,
    )
    async with api(settings) as quiet:
        await quiet.post("/api/v1/apps/classy/connect", headers=ADMIN)
        body = creds(sandbox.client_id, sandbox.client_secret, "82364")
        saved = await quiet.put("/api/v1/apps/classy/credentials", headers=ADMIN, json=body)
        assert saved.status_code == 200, saved.text
        assert (await status(quiet))["sync_running"] is False
        for mode in ("incremental", "full"):
            response = await quiet.post("/api/v1/apps/classy/sync", headers=ADMIN, json={"mode": mode})
            assert response.status_code == 202, response.text
            assert response.json()["mode"] == mode
