"""Credentials revoked in Classy: status error with a sentence, retried with backoff, recovered."""

from __future__ import annotations

from datetime import datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from sandbox.server import SandboxHandle
from tests.integration.sync.helpers import ADMIN, connect, service, sync_settings, wait_for_run, wait_until


async def test_revoked_credentials_put_the_integration_in_error_until_they_work_again(
    db: AsyncEngine, database_url: str, sandbox: SandboxHandle
) -> None:
    control = httpx.Client(base_url=sandbox.control_url)
    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, sandbox.organization_ids[0])
        first = await wait_for_run(client)
        assert first["status"] == "succeeded"
        # The admin regenerates the secret in Classy: our stored secret and token stop working.
        control.post(
            f"/apps/{sandbox.client_id}", json={"client_secret": "rotated-secret", "revoke_tokens": True}
        ).raise_for_status()
        assert (await client.post("/api/v1/apps/classy/sync", headers=ADMIN)).status_code == 202
        failed = await wait_for_run(client, after_id=first["id"])
        assert failed["status"] == "failed"
        assert "Client ID or Client Secret" in failed["error"]
        status = (await client.get("/api/v1/apps/classy", headers=ADMIN)).json()
        assert (status["status"], status["badge"]) == ("error", "Error")
        assert "Classy" in status["last_error"]
        # Retried later with backoff, not in a tight loop.
        assert datetime.fromisoformat(status["next_sync_at"]) > datetime.fromisoformat(failed["finished_at"])
        runs = (await client.get("/api/v1/apps/classy/sync-runs", headers=ADMIN)).json()["items"]
        assert len(runs) == 2
        # The secret works again (restored in Classy): a sync now succeeds and clears the error.
        control.post(
            f"/apps/{sandbox.client_id}", json={"client_secret": sandbox.client_secret}
        ).raise_for_status()
        assert (await client.post("/api/v1/apps/classy/sync", headers=ADMIN)).status_code == 202
        recovered = await wait_for_run(client, after_id=failed["id"])
        assert recovered["status"] == "succeeded", recovered

        async def connected() -> bool:
            body = (await client.get("/api/v1/apps/classy", headers=ADMIN)).json()
            return body["status"] == "connected" and body["last_error"] is None

        await wait_until(connected, timeout=10)
