"""The issue's reproduction, as an operator would see it: a real service process, Postgres crashed mid-import.

No hooks: the crash lands wherever the import happens to be. The service keeps running, answers 503
while the database is down, and after it is back and one more sync has run, every record is there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from app.db.models import Donation, SyncRun
from sandbox.generate import Sizes
from sandbox.server import SandboxHandle, run_sandbox
from sandbox.store import SandboxConfig
from tests.integration.outage.cluster import ThrowawayCluster
from tests.integration.outage.conftest import Checker, fresh_database
from tests.integration.sync.helpers import ADMIN, assert_matches_sandbox, connect, wait_for_run, wait_until
from tests.integration.sync.processes import ServiceProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


@pytest.fixture
def slow_sandbox() -> Iterator[SandboxHandle]:
    sizes = Sizes(supporters=150, transactions=1200, registrations=30, campaigns=2, plans=6)
    with run_sandbox(SandboxConfig(seed=13, organizations=1, sizes=sizes, rate_limit=0)) as handle:
        # Pages take a little while, as from the real Classy: the crash lands mid-import.
        httpx.post(
            f"{handle.control_url}/faults",
            json={"kind": "latency", "rate": 1.0, "latency_ms": 60, "path_prefix": "/2.0/"},
        ).raise_for_status()
        yield handle


async def test_a_crashed_database_mid_import_loses_nothing(
    durable_cluster: ThrowawayCluster, slow_sandbox: SandboxHandle, checkers: list[Checker], tmp_path: Path
) -> None:
    sandbox = slow_sandbox
    org = sandbox.organization_ids[0]
    url = await fresh_database(durable_cluster)
    checker = Checker(url)
    checkers.append(checker)

    async def donations() -> int:
        async with checker.sessionmaker() as session:
            return int(await session.scalar(select(func.count()).select_from(Donation)) or 0)

    env = {
        "CLASSY_API_URL": sandbox.api_url,
        "CLASSY_TOKEN_URL": sandbox.token_url,
        "CLASSY_AUTHORIZE_URL": sandbox.authorize_url,
        "CLASSY_RATE_LIMIT_PER_MINUTE": 100_000,
        "SCHEDULER_TICK_SECONDS": 0.2,
        "SYNC_LEASE_SECONDS": 5,
    }
    with ServiceProcess(url, tmp_path, **env) as service:
        async with httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
            await connect(client, sandbox, org)

            async def a_few_pages_in() -> bool:
                return await donations() >= 300

            await wait_until(a_few_pages_in, timeout=60)
            await asyncio.to_thread(durable_cluster.crash)
            await checker.engine.dispose()
            started = time.monotonic()
            response = await client.get("/api/v1/apps/classy", headers=ADMIN)
            assert time.monotonic() - started < 3
            assert response.status_code == 503 and response.json()["code"] == "database_unavailable"
            await asyncio.sleep(2)
            await asyncio.to_thread(durable_cluster.start)
            first = await wait_for_run(client, timeout=60)
            assert first["status"] in ("failed", "succeeded"), first
            if first["status"] == "failed":
                assert "database" in first["error"], first
            response = await client.post("/api/v1/apps/classy/sync", headers=ADMIN)
            assert response.status_code == 202, response.text
            second = await wait_for_run(client, after_id=first["id"], timeout=90)
            assert second["status"] == "succeeded", second
        assert service.child is not None and service.child.alive(), "the service died"
    async with checker.sessionmaker() as session:
        await assert_matches_sandbox(session, sandbox, org)
        running = await session.scalar(
            select(func.count()).select_from(SyncRun).where(SyncRun.status == "running")
        )
        assert running == 0
