"""API.md §3: rejected credentials → 422 with a sentence; an admin correcting typos is not cut off.

A few rejected tries in a row (a wrong secret, then a wrong organization, …) must each still get the
contract's 422 with a sentence saying which, and the right credentials then connect.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from sandbox.server import SandboxHandle
from tests.integration.api.lifecycle_helpers import ADMIN, api, classy_settings, creds


async def test_eight_rejected_tries_then_the_right_ones(
    db: AsyncEngine, database_url: str, sandbox: SandboxHandle
) -> None:
    settings = classy_settings(
        database_url,
        api_url=sandbox.api_url,
        token_url=sandbox.token_url,
        authorize_url=sandbox.authorize_url,
    )
    async with api(settings) as client:
        await client.post("/api/v1/apps/classy/connect", headers=ADMIN)
        tries = [creds(sandbox.client_id, f"typo-{n}", 82364) for n in range(5)]
        tries += [creds(sandbox.client_id, sandbox.client_secret, org) for org in (1, 2, 3)]
        for body in tries:
            response = await client.put("/api/v1/apps/classy/credentials", headers=ADMIN, json=body)
            assert response.status_code == 422, response.text
            assert response.json()["code"] in {"invalid_credentials", "organization_not_accessible"}
        right = creds(sandbox.client_id, sandbox.client_secret, "82364")
        saved = await client.put("/api/v1/apps/classy/credentials", headers=ADMIN, json=right)
        assert saved.status_code == 200, saved.text
        assert saved.json()["status"] == "connected" and saved.json()["organization_id"] == 82364
