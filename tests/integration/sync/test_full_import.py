"""A full import equals the sandbox, also with faults and a token that expires mid-import."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from sandbox.generate import Sizes
from sandbox.server import SandboxHandle, run_sandbox
from sandbox.store import SandboxConfig
from tests.integration.sync.helpers import (
    ADMIN,
    assert_matches_sandbox,
    connect,
    data_requests,
    service,
    sync_settings,
    wait_for_run,
)


async def test_full_import_equals_sandbox(
    db: AsyncEngine, session: AsyncSession, database_url: str, sandbox: SandboxHandle
) -> None:
    org = sandbox.organization_ids[0]
    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, org)
        run = await wait_for_run(client)
        assert run["status"] == "succeeded", (run["error"], run)
        assert run["trigger"] == "initial"
        assert run["streams"]["transactions"]["inserted"] == 900
        status = (await client.get("/api/v1/apps/classy", headers=ADMIN)).json()
        assert status["last_synced_at"] is not None and status["badge"] == "Connected"
    await assert_matches_sandbox(session, sandbox, org)


async def test_full_import_with_faults_and_expiring_token(
    db: AsyncEngine, session: AsyncSession, database_url: str
) -> None:
    sizes = Sizes(supporters=1500, transactions=3000, registrations=400, campaigns=5, plans=50)
    with run_sandbox(SandboxConfig(seed=11, organizations=1, sizes=sizes, rate_limit=0)) as sandbox:
        await _import_with_faults(session, database_url, sandbox)


async def _import_with_faults(session: AsyncSession, database_url: str, sandbox: SandboxHandle) -> None:
    org = sandbox.organization_ids[0]
    control = httpx.Client(base_url=sandbox.control_url)
    control.post("/token-lifetime", json={"seconds": 1}).raise_for_status()
    for kind in ("429", "503", "500"):
        rule = {"kind": kind, "rate": 0.034, "retry_after": 1, "path_prefix": "/2.0/"}
        control.post("/faults", json=rule).raise_for_status()
    # Slow pages a little so the one-second tokens expire several times during the import.
    control.post("/faults", json={"kind": "latency", "rate": 1.0, "latency_ms": 20, "path_prefix": "/2.0/"})
    settings = sync_settings(database_url, sandbox)
    async with service(settings) as client:
        await connect(client, sandbox, org)
        run = await wait_for_run(client, timeout=180)
        assert run["status"] == "succeeded", (run["error"], run)
    log = control.get("/requests", params={"limit": 100_000}).json()
    statuses = {r["status"] for r in data_requests(sandbox)}
    assert statuses & {429, 503, 500}, log["by_status"]
    token_requests = [r for r in log["requests"] if r["path"] == "/oauth2/auth"]
    assert len(token_requests) >= 3, "the token should have been renewed during the import"
    await assert_matches_sandbox(session, sandbox, org)
