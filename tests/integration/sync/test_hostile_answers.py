"""Hostile answers from Classy end a run with a sentence: never a loop, a crash or an endless wait."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from sandbox.server import SandboxHandle
from tests.integration.sync.helpers import ADMIN, connect, service, sync_settings, wait_for_run


async def _sync_now(client: httpx.AsyncClient, after: dict[str, Any]) -> dict[str, Any]:
    assert (await client.post("/api/v1/apps/classy/sync", headers=ADMIN)).status_code == 202
    return await wait_for_run(client, after_id=after["id"], timeout=60)


def _one_second_block(sandbox: SandboxHandle, org: int, size: int = 150) -> None:
    """`size` supporters stamped with one second: reading them needs page 2 of one query."""
    store = sandbox.store
    assert store is not None
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(time.time() - 5))
    for row in store.dump(org, "supporters")[:size]:
        store.update(org, "supporters", row["id"], {"updated_at": stamp})


@pytest.mark.parametrize("echo", [False, True])
async def test_a_list_that_ignores_page(
    db: AsyncEngine, database_url: str, sandbox: SandboxHandle, echo: bool
) -> None:
    org = sandbox.organization_ids[0]
    _one_second_block(sandbox, org)
    control = httpx.Client(base_url=sandbox.control_url)
    control.post("/hostile", json={"kind": "ignore_page", "echo": echo}).raise_for_status()
    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, org)
        failed = await wait_for_run(client, timeout=60)
        assert failed["status"] == "failed"
        assert "answered page 2 of /organizations/" in failed["error"]
        assert "it ignores the page parameter" in failed["error"]
        control.delete("/hostile").raise_for_status()
        recovered = await _sync_now(client, failed)
        assert recovered["status"] == "succeeded", recovered


async def test_non_finite_numbers_in_rate_limit_headers(
    db: AsyncEngine, database_url: str, sandbox: SandboxHandle
) -> None:
    control = httpx.Client(base_url=sandbox.control_url)
    headers = {"Retry-After": "inf", "X-RateLimit-Reset": "1e400", "X-RateLimit-Remaining": "NaN"}
    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, sandbox.organization_ids[0])
        first = await wait_for_run(client, timeout=60)
        control.post("/hostile", json={"kind": "headers", "status": 429, "headers": headers, "count": 4})
        started = time.monotonic()
        run = await _sync_now(client, first)
        assert run["status"] == "succeeded", run
        assert time.monotonic() - started < 30  # the hint was ignored, not waited out as "forever"
        requests = control.get("/requests").json()
        assert requests["by_status"]["429"] == 4


async def test_a_non_finite_amount_in_a_body(
    db: AsyncEngine, database_url: str, sandbox: SandboxHandle
) -> None:
    org = sandbox.organization_ids[0]
    store = sandbox.store
    assert store is not None
    tid = store.dump(org, "transactions")[7]["id"]
    control = httpx.Client(base_url=sandbox.control_url)
    odd = {"literals": {"donation_gross_amount": "1e400"}}
    control.post(f"/organizations/{org}/transactions/{tid}/render", json=odd).raise_for_status()
    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, org)
        run = await wait_for_run(client, timeout=60)
        assert run["status"] == "succeeded", run  # one odd value never stops a sync
        async with AsyncSession(db) as session:
            odd_row = (
                await session.execute(
                    text("SELECT amount, status FROM donation WHERE classy_transaction_id = :t"), {"t": tid}
                )
            ).one()
            stored = await session.scalar(
                text("SELECT count(*) FROM donation WHERE organization_id = :o"), {"o": org}
            )
        assert odd_row.amount is None  # the value no amount can be is left empty
        assert odd_row.status is not None  # everything else of the record is kept
        assert stored == len(store.dump(org, "transactions"))


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_response_larger_than_the_cap(
    db: AsyncEngine, database_url: str, sandbox: SandboxHandle, chunked: bool
) -> None:
    control = httpx.Client(base_url=sandbox.control_url)
    rule = {"kind": "huge", "bytes": 40 * 1024 * 1024, "chunked": chunked, "count": 1}
    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, sandbox.organization_ids[0])
        first = await wait_for_run(client, timeout=60)
        assert first["status"] == "succeeded"
        control.post("/hostile", json=rule).raise_for_status()
        failed = await _sync_now(client, first)
        assert failed["status"] == "failed"
        assert "with more than 32 MB" in failed["error"], failed["error"]
        recovered = await _sync_now(client, failed)
        assert recovered["status"] == "succeeded", recovered
