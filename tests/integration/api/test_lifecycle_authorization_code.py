"""The authorization_code flow: Save → Classy login (sandbox) → our callback, and every way it can fail."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.repositories.credentials import load_credentials
from app.security.crypto import Encryptor
from app.settings import Settings
from sandbox.server import SandboxHandle
from tests.integration.api.lifecycle_helpers import (
    ADMIN,
    OTHER_ADMIN,
    api,
    classy_settings,
    creds,
    events,
    status,
)

ORG_A, ORG_B = 82364, 83481
FRONT = "http://crm.example/console/apps/classy"


@pytest.fixture
def ac_settings(sandbox: SandboxHandle, database_url: str) -> Settings:
    return classy_settings(
        database_url,
        api_url=sandbox.api_url,
        token_url=sandbox.token_url,
        authorize_url=sandbox.authorize_url,
        CLASSY_AUTH_FLOW="authorization_code",
    )


@pytest.fixture
async def ac(db: AsyncEngine, ac_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with api(ac_settings) as client:
        yield client


async def _start(
    client: httpx.AsyncClient,
    sandbox: SandboxHandle,
    *,
    headers: dict[str, str] = ADMIN,
    org: int = ORG_A,
    client_id: str | None = None,
    path: str = "credentials",
) -> dict[str, Any]:
    if path == "credentials":
        await client.post("/api/v1/apps/classy/connect", headers=headers)
    body = creds(client_id or sandbox.client_id, sandbox.client_secret, org)
    method = "PUT" if path == "credentials" else "POST"
    response = await client.request(method, f"/api/v1/apps/classy/{path}", headers=headers, json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    assert result["status"] == "awaiting_authorization" and result["badge"] is None
    return result


def _login(authorize_url: str) -> dict[str, str]:
    """The browser at Classy Login: the sandbox approves and redirects to our redirect URI."""
    response = httpx.get(authorize_url, follow_redirects=False)
    assert response.status_code in (302, 303, 307), response.text
    location = urlsplit(response.headers["location"])
    assert (
        f"{location.scheme}://{location.netloc}{location.path}" == "http://testserver/oauth/classy/callback"
    )
    return {k: v[0] for k, v in parse_qs(location.query).items()}


async def _callback(client: httpx.AsyncClient, params: dict[str, str]) -> str:
    response = await client.get("/oauth/classy/callback", params=params)  # no bearer token
    assert response.status_code == 302
    location: str = response.headers["location"]
    return location


async def test_authorization_code_connects(
    ac: httpx.AsyncClient, sandbox: SandboxHandle, db: AsyncEngine, ac_settings: Settings
) -> None:
    started = await _start(ac, sandbox)
    url = urlsplit(started["authorize_url"])
    assert started["authorize_url"].startswith(sandbox.authorize_url + "?")
    query = parse_qs(url.query)
    assert query["redirect_uri"] == ["http://testserver/oauth/classy/callback"]
    assert query["response_type"] == ["code"] and len(query["state"][0]) >= 43
    params = _login(started["authorize_url"])
    assert await _callback(ac, params) == f"{FRONT}?connected=1"

    body = await status(ac)
    assert body["status"] == "connected" and body["connected_by"] == "alice"
    assert body["organization_id"] == ORG_A and body["version"] == started["version"] + 1
    async with db.connect() as connection:
        row = (await connection.execute(text("SELECT * FROM integration"))).mappings().one()
        stored = (await connection.execute(text("SELECT state_hash, used_at FROM oauth_state"))).all()
        from sqlalchemy.ext.asyncio import AsyncSession

        async with AsyncSession(bind=connection) as session:
            plain = await load_credentials(session, Encryptor(ac_settings.encryption_key_ring()), row["id"])
    assert row["sync_requested_trigger"] == "initial" and row["auth_flow"] == "authorization_code"
    assert plain is not None and plain.refresh_token and plain.access_token
    assert [s.state_hash for s in stored] != [params["state"]] and stored[0].used_at is not None
    actions = [(e["action"], e["actor"]) for e in await events(ac)]
    assert actions == [("authorize", "alice"), ("save_credentials", "alice"), ("connect", "alice")]

    # Replaying the callback changes nothing.
    assert await _callback(ac, params) == f"{FRONT}?error=invalid_state"
    assert (await status(ac))["version"] == body["version"]


async def test_replay_race_connects_once(ac: httpx.AsyncClient, sandbox: SandboxHandle) -> None:
    params = _login((await _start(ac, sandbox))["authorize_url"])
    outcomes = await asyncio.gather(*(_callback(ac, params) for _ in range(4)))
    assert sorted(outcomes) == sorted([f"{FRONT}?connected=1"] + [f"{FRONT}?error=invalid_state"] * 3)
    assert [e["action"] for e in await events(ac)].count("authorize") == 1


async def test_callback_failures_change_nothing(
    ac: httpx.AsyncClient, sandbox: SandboxHandle, db: AsyncEngine
) -> None:
    started = await _start(ac, sandbox)
    params = _login(started["authorize_url"])
    before = await status(ac)
    cases = [
        ({}, "invalid_state"),
        ({"code": params["code"]}, "invalid_state"),
        ({"code": params["code"], "state": "forged-" + params["state"][7:]}, "invalid_state"),
        ({"state": params["state"], "error": "access_denied"}, "access_denied"),
        ({"state": params["state"]}, "invalid_code"),
        # An open redirect attempt is ignored: the target is always FRONTEND_URL.
        ({"code": params["code"], "state": "x", "redirect_uri": "https://evil.example"}, "invalid_state"),
    ]
    for query, code in cases:
        assert await _callback(ac, query) == f"{FRONT}?error={code}", query
        assert await status(ac) == before
    # Expired: the same state, made 11 minutes old.
    async with db.begin() as connection:
        await connection.execute(text("UPDATE oauth_state SET expires_at = now() - interval '1 minute'"))
    assert await _callback(ac, params) == f"{FRONT}?error=expired_state"
    assert await status(ac) == before


async def test_rejected_code_and_unreadable_org(
    ac: httpx.AsyncClient, sandbox: SandboxHandle, db: AsyncEngine
) -> None:
    started = await _start(ac, sandbox)
    state = parse_qs(urlsplit(started["authorize_url"]).query)["state"][0]
    assert await _callback(ac, {"code": "not-a-code", "state": state}) == f"{FRONT}?error=invalid_code"
    assert (await status(ac))["status"] == "awaiting_authorization"
    assert (await events(ac))[0]["details"] == {"reason": "invalid_code"}

    # The member who logs in cannot read organization B, although the app can.
    assert sandbox.store is not None
    with sandbox.store.lock:
        for member in sandbox.store.auth.members.values():
            member.organization_ids = {ORG_A}
    started = await _start(ac, sandbox, org=ORG_B)
    params = _login(started["authorize_url"])
    assert await _callback(ac, params) == f"{FRONT}?error=organization_not_accessible"
    body = await status(ac)
    assert body["status"] == "awaiting_authorization" and body["connected_at"] is None


async def test_cross_account_state_is_refused(
    ac: httpx.AsyncClient, sandbox: SandboxHandle, db: AsyncEngine
) -> None:
    httpx.post(
        f"{sandbox.control_url}/apps",
        json={"client_id": "globex-app", "client_secret": sandbox.client_secret, "organization_ids": [ORG_B]},
    ).raise_for_status()
    acme = _login((await _start(ac, sandbox))["authorize_url"])
    globex = _login(
        (await _start(ac, sandbox, headers=OTHER_ADMIN, org=ORG_B, client_id="globex-app"))["authorize_url"]
    )
    # acme's code with globex's state: exchanged with globex's app, Classy refuses; nothing changes.
    assert (
        await _callback(ac, {"code": acme["code"], "state": globex["state"]}) == f"{FRONT}?error=invalid_code"
    )
    assert (await status(ac))["status"] == "awaiting_authorization"
    assert (await status(ac, OTHER_ADMIN))["status"] == "awaiting_authorization"
    # The states stay bound to their own account: acme completes with its own.
    assert await _callback(ac, acme) == f"{FRONT}?connected=1"
    assert (await status(ac))["status"] == "connected"
    assert (await status(ac, OTHER_ADMIN))["status"] == "awaiting_authorization"


async def test_resave_supersedes_old_state_and_disconnect_forgets_states(
    ac: httpx.AsyncClient, sandbox: SandboxHandle, db: AsyncEngine
) -> None:
    first = _login((await _start(ac, sandbox))["authorize_url"])
    second = _login((await _start(ac, sandbox))["authorize_url"])
    assert await _callback(ac, first) == f"{FRONT}?error=invalid_state"
    await ac.post("/api/v1/apps/classy/disconnect", headers=ADMIN)
    assert await _callback(ac, second) == f"{FRONT}?error=invalid_state"
    async with db.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM oauth_state"))).scalar() == 0
        assert (await connection.execute(text("SELECT count(*) FROM credential"))).scalar() == 0


async def test_reconnect_through_login(
    ac: httpx.AsyncClient, sandbox: SandboxHandle, db: AsyncEngine
) -> None:
    assert await _callback(ac, _login((await _start(ac, sandbox))["authorize_url"])) == f"{FRONT}?connected=1"
    await ac.post("/api/v1/apps/classy/disconnect", headers=ADMIN)
    started = await _start(ac, sandbox, org=ORG_B, path="reconnect")
    assert await _callback(ac, _login(started["authorize_url"])) == f"{FRONT}?connected=1"
    async with db.connect() as connection:
        row = (await connection.execute(text("SELECT * FROM integration"))).mappings().one()
        action = (
            await connection.execute(
                text("SELECT lifecycle_action FROM oauth_state ORDER BY created_at DESC LIMIT 1")
            )
        ).scalar()
    assert row["sync_requested_trigger"] == "reconnect" and row["organization_id"] == ORG_B
    assert row["history_floor_at"] == row["disconnected_at"] and action == "reconnect"
    authorize = (await events(ac))[0]
    assert authorize["action"] == "authorize" and authorize["details"]["organization_changed"] is True


async def test_callback_starts_the_first_sync_promptly(
    sandbox: SandboxHandle, db: AsyncEngine, database_url: str
) -> None:
    """The callback wakes the scheduler: with a one-minute tick the first sync still starts in seconds."""
    settings = classy_settings(
        database_url,
        api_url=sandbox.api_url,
        token_url=sandbox.token_url,
        authorize_url=sandbox.authorize_url,
        CLASSY_AUTH_FLOW="authorization_code",
        SCHEDULER_ENABLED=True,
        SCHEDULER_TICK_SECONDS=60,
    )
    async with api(settings) as client:
        params = _login((await _start(client, sandbox))["authorize_url"])
        await asyncio.sleep(0.5)  # the scheduler's first tick has passed: it now sleeps for a minute
        assert await _callback(client, params) == f"{FRONT}?connected=1"
        runs: list[dict[str, Any]] = []
        async with asyncio.timeout(10):
            while not runs:
                response = await client.get("/api/v1/apps/classy/sync-runs", headers=ADMIN)
                runs = response.json()["items"]
                await asyncio.sleep(0.1)
    assert runs[0]["trigger"] == "initial"
