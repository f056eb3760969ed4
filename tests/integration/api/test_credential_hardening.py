"""Save/Reconnect are throttled per account; a disconnect drops the account's secrets from log masking."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncEngine

from app.logging import redact
from sandbox.server import SandboxHandle
from tests.integration.api.lifecycle_helpers import ADMIN, OTHER_ADMIN, api, classy_settings, creds

ORG = 82364


def token_requests(sandbox: SandboxHandle) -> int:
    store = sandbox.store
    assert store is not None
    path = urlsplit(sandbox.token_url).path
    with store.lock:
        return sum(1 for entry in store.log.entries if entry["path"] == path)


def settings_for(sandbox: SandboxHandle, database_url: str):  # type: ignore[no-untyped-def]
    return classy_settings(
        database_url,
        api_url=sandbox.api_url,
        token_url=sandbox.token_url,
        authorize_url=sandbox.authorize_url,
    )


async def test_rejected_saves_cannot_hammer_classys_token_endpoint(
    db: AsyncEngine, database_url: str, sandbox: SandboxHandle
) -> None:
    async with api(settings_for(sandbox, database_url)) as client:
        await client.post("/api/v1/apps/classy/connect", headers=ADMIN)
        before = token_requests(sandbox)
        statuses = []
        for attempt in range(14):
            response = await client.put(
                "/api/v1/apps/classy/credentials",
                headers=ADMIN,
                json=creds(f"made-up-{attempt}", "wrong-secret", ORG),
            )
            statuses.append(response.status_code)
        assert statuses[:10] == [422] * 10, statuses
        assert statuses[10:] == [429] * 4, statuses
        assert token_requests(sandbox) - before == 10, "a throttled Save must not reach Classy"
        body = response.json()
        assert set(body) == {"detail", "code"} and body["code"] == "too_many_requests"
        assert 1 <= int(response.headers["Retry-After"]) <= 5
        assert response.headers["Retry-After"] in body["detail"]
        # A call its state refuses (409) never reaches Classy: the throttle does not stand in its way.
        again = await client.post("/api/v1/apps/classy/reconnect", headers=ADMIN, json=creds("x", "y", ORG))
        assert again.status_code == 409 and again.json()["code"] == "invalid_state", again.text
        # Another account has its own bucket.
        await client.post("/api/v1/apps/classy/connect", headers=OTHER_ADMIN)
        other = await client.put(
            "/api/v1/apps/classy/credentials", headers=OTHER_ADMIN, json=creds("x", "y", ORG)
        )
        assert other.status_code == 422


async def test_a_disconnect_drops_the_secrets_from_log_masking(
    db: AsyncEngine, database_url: str, sandbox: SandboxHandle
) -> None:
    async with api(settings_for(sandbox, database_url)) as client:
        await client.post("/api/v1/apps/classy/connect", headers=ADMIN)
        saved = await client.put(
            "/api/v1/apps/classy/credentials",
            headers=ADMIN,
            json=creds(sandbox.client_id, sandbox.client_secret, ORG),
        )
        assert saved.status_code == 200, saved.text
        assert sandbox.client_secret not in redact(f"x {sandbox.client_secret} y")
        response = await client.post("/api/v1/apps/classy/disconnect", headers=ADMIN)
        assert response.status_code == 200, response.text
        assert redact(f"x {sandbox.client_secret} y") == f"x {sandbox.client_secret} y"
