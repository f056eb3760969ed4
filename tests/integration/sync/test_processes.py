"""Real service processes: a SIGKILL mid-import resumes from the checkpoint; two replicas never overlap."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db.models import Donation, SyncRun
from sandbox.generate import Sizes
from sandbox.server import SandboxHandle, run_sandbox
from sandbox.store import SandboxConfig
from tests.integration.sync.helpers import (
    assert_matches_sandbox,
    clear_requests,
    connect,
    data_requests,
    latest_run,
    wait_for_run,
    wait_until,
)
from tests.integration.sync.processes import ServiceProcess

pytestmark = pytest.mark.slow


@pytest.fixture
def big_sandbox() -> Iterator[SandboxHandle]:
    sizes = Sizes(supporters=400, transactions=3000, registrations=100, campaigns=3, plans=20)
    with run_sandbox(SandboxConfig(seed=5, organizations=1, sizes=sizes, rate_limit=0)) as handle:
        yield handle


def replica(database_url: str, sandbox: SandboxHandle, tmp_path: Path, **env: object) -> ServiceProcess:
    settings: dict[str, object] = {
        "CLASSY_API_URL": sandbox.api_url,
        "CLASSY_TOKEN_URL": sandbox.token_url,
        "CLASSY_AUTHORIZE_URL": sandbox.authorize_url,
        "CLASSY_RATE_LIMIT_PER_MINUTE": 100_000,
        "SCHEDULER_TICK_SECONDS": 0.2,
        "SYNC_LEASE_SECONDS": 3,
        **env,
    }
    return ServiceProcess(database_url, tmp_path, **settings)


async def test_sigkill_mid_import_resumes_from_checkpoint(
    db: AsyncEngine, session: AsyncSession, database_url: str, big_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    sandbox = big_sandbox
    org = sandbox.organization_ids[0]
    control = httpx.Client(base_url=sandbox.control_url)
    control.post("/faults", json={"kind": "latency", "rate": 1.0, "latency_ms": 40, "path_prefix": "/2.0/"})

    async def donations() -> int:
        return int(await session.scalar(select(func.count()).select_from(Donation)) or 0)

    first = replica(database_url, sandbox, tmp_path).start()
    try:
        async with httpx.AsyncClient(base_url=first.base_url, timeout=10) as client:
            await connect(client, sandbox, org)

            async def halfway() -> bool:
                return await donations() >= 1000

            await wait_until(halfway, timeout=120)
            killed_run = await latest_run(client)
        first.kill()
    finally:
        first.stop()
    assert killed_run is not None and killed_run["status"] == "running"
    committed = await donations()
    assert 1000 <= committed < 3000
    clear_requests(sandbox)
    control.delete("/faults")

    with replica(database_url, sandbox, tmp_path) as second:
        async with httpx.AsyncClient(base_url=second.base_url, timeout=10) as client:
            run = await wait_for_run(client, after_id=killed_run["id"], timeout=120)
            assert run["status"] == "succeeded", run
            runs = (await client.get("/api/v1/apps/classy/sync-runs", headers=_admin())).json()["items"]
    interrupted = next(r for r in runs if r["id"] == killed_run["id"])
    assert interrupted["status"] == "failed" and "checkpoint" in interrupted["error"]
    await assert_matches_sandbox(session, sandbox, org)
    # Resumed, not restarted: what was committed is not fetched again.
    nulls = sum(1 for t in sandbox.store.dump(org, "transactions") if t.get("updated_at") is None)  # type: ignore[union-attr]
    assert run["streams"]["transactions"]["fetched"] <= 3000 - committed + 100 + nulls
    assert run["streams"]["supporters"]["fetched"] == 0
    first_tx = next(
        r for r in data_requests(sandbox) if r["path"].endswith("/transactions") and "filter" in r["query"]
    )
    lower = parse_qs(urlsplit("?" + first_tx["query"]).query)["filter"][0]
    assert not lower.startswith("updated_at>=1970"), "the read restarted from the beginning"
    assert (await donations()) == 3000


def _admin() -> dict[str, str]:
    from tests.integration.sync.helpers import ADMIN

    return ADMIN


async def test_two_replicas_never_sync_one_integration_at_once(
    db: AsyncEngine, session: AsyncSession, database_url: str, tmp_path: Path
) -> None:
    sizes = Sizes(supporters=200, transactions=400, registrations=50, campaigns=2, plans=10)
    with run_sandbox(SandboxConfig(seed=9, organizations=1, sizes=sizes, rate_limit=0)) as sandbox:
        env = {"SYNC_INTERVAL_SECONDS": 1, "SCHEDULER_TICK_SECONDS": 0.1}
        with (
            replica(database_url, sandbox, tmp_path, **env) as one,
            replica(database_url, sandbox, tmp_path, **env),
        ):
            async with httpx.AsyncClient(base_url=one.base_url, timeout=10) as client:
                await connect(client, sandbox, sandbox.organization_ids[0])
                await asyncio.sleep(8)
        await assert_matches_sandbox(session, sandbox, sandbox.organization_ids[0])
    runs = (await session.execute(select(SyncRun).order_by(SyncRun.started_at))).scalars().all()
    finished = [r for r in runs if r.finished_at is not None]
    assert len(finished) >= 3, f"expected several runs, got {len(finished)}"
    for earlier, later in itertools.pairwise(finished):
        assert later.started_at >= earlier.finished_at, "two runs of one integration overlapped"
    assert all(r.status in ("succeeded", "cancelled") for r in finished), [r.error for r in finished]
