"""The lifecycle in the client_credentials flow, verified against the Classy sandbox over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

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
    ADMIN2,
    MEMBER,
    OTHER_ADMIN,
    api,
    classy_settings,
    creds,
    events,
    status,
)

ORG_A, ORG_B = 82364, 83481


@pytest.fixture
def cc_settings(sandbox: SandboxHandle, database_url: str) -> Settings:
    return classy_settings(
        database_url,
        api_url=sandbox.api_url,
        token_url=sandbox.token_url,
        authorize_url=sandbox.authorize_url,
    )


@pytest.fixture
async def cc(db: AsyncEngine, cc_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with api(cc_settings) as client:
        yield client


async def _row(db: AsyncEngine, *columns: str) -> dict[str, Any]:
    async with db.connect() as connection:
        result = await connection.execute(
            text(f"SELECT {', '.join(columns)} FROM integration WHERE account = 'acme'")
        )
        return dict(result.mappings().one())


async def _set(db: AsyncEngine, sql: str, **params: Any) -> None:
    async with db.begin() as connection:
        await connection.execute(text(sql), params)


async def _save(
    client: httpx.AsyncClient, sandbox: SandboxHandle, org: Any = ORG_A, **kw: Any
) -> httpx.Response:
    body = creds(kw.get("client_id", sandbox.client_id), kw.get("client_secret", sandbox.client_secret), org)
    return await client.put("/api/v1/apps/classy/credentials", headers=kw.get("headers", ADMIN), json=body)


async def test_full_lifecycle(cc: httpx.AsyncClient, sandbox: SandboxHandle, db: AsyncEngine) -> None:
    assert (await cc.post("/api/v1/apps/classy/connect", headers=ADMIN)).status_code == 200
    saved = await _save(cc, sandbox, org=str(ORG_A))
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["status"] == "connected" and body["badge"] == "Connected"
    assert body["organization_id"] == ORG_A and body["client_id"] == sandbox.client_id
    assert body["connected_by"] == "alice" and body["connected_by_name"] == "Alice Admin"
    assert body["connected_at"] and body["next_sync_at"] and body["authorize_url"] is None
    assert sandbox.client_secret not in saved.text
    row = await _row(db, "sync_requested_trigger", "history_floor_at", "auth_flow", "last_error")
    assert row == {
        "sync_requested_trigger": "initial",
        "history_floor_at": None,
        "auth_flow": "client_credentials",
        "last_error": None,
    }
    assert (await cc.get("/api/v1/apps", headers=MEMBER)).json()[0]["badge"] == "Connected"

    # Pause keeps the credentials; sync is refused while paused.
    paused = await cc.post("/api/v1/apps/classy/pause", headers=ADMIN2)
    assert paused.json()["status"] == "paused" and paused.json()["paused_by"] == "bob"
    assert paused.json()["next_sync_at"] is None
    assert (await cc.post("/api/v1/apps/classy/sync", headers=ADMIN)).status_code == 409
    assert (await cc.post("/api/v1/apps/classy/pause", headers=ADMIN)).status_code == 409
    async with db.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM credential"))).scalar() == 1

    # The engine took the initial request; resume then asks for a 'resume' sync.
    await _set(db, "UPDATE integration SET sync_requested_trigger = NULL, next_sync_at = NULL")
    resumed = await cc.post("/api/v1/apps/classy/resume", headers=ADMIN)
    assert resumed.json()["status"] == "connected" and resumed.json()["resumed_by"] == "alice"
    assert (await _row(db, "sync_requested_trigger"))["sync_requested_trigger"] == "resume"
    await _set(db, "UPDATE integration SET sync_requested_trigger = NULL")
    requested = await cc.post("/api/v1/apps/classy/sync", headers=ADMIN)
    assert requested.status_code == 202 and requested.json()["status"] == "connected"
    assert (await _row(db, "sync_requested_trigger"))["sync_requested_trigger"] == "manual"

    # Disconnect erases secrets and tokens, keeps who/when and the (non-secret) ids.
    gone = await cc.post("/api/v1/apps/classy/disconnect", headers=ADMIN)
    body = gone.json()
    assert body["status"] == "disconnected" and body["badge"] == "Disconnected"
    assert body["disconnected_by"] == "alice" and body["disconnected_at"]
    assert body["organization_id"] == ORG_A and body["next_sync_at"] is None
    async with db.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM credential"))).scalar() == 0
    for path in ["pause", "resume", "sync", "disconnect"]:
        assert (await cc.post(f"/api/v1/apps/classy/{path}", headers=ADMIN)).status_code == 409, path
    assert (await _save(cc, sandbox)).status_code == 409  # Save needs Connect (or use Reconnect)

    # Reconnect to the same organization: cursors continue, no history floor.
    again = await cc.post(
        "/api/v1/apps/classy/reconnect",
        headers=ADMIN2,
        json=creds(sandbox.client_id, sandbox.client_secret, ORG_A),
    )
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "connected" and again.json()["connected_by"] == "bob"
    row = await _row(db, "sync_requested_trigger", "history_floor_at")
    assert row == {"sync_requested_trigger": "reconnect", "history_floor_at": None}
    twice = creds(sandbox.client_id, sandbox.client_secret, ORG_A)
    assert (await cc.post("/api/v1/apps/classy/reconnect", headers=ADMIN, json=twice)).status_code == 409

    actions = [e["action"] for e in await events(cc, MEMBER)]
    assert actions == [
        "reconnect",
        "disconnect",
        "sync_requested",
        "resume",
        "pause",
        "save_credentials",
        "connect",
    ]
    reconnect_event = (await events(cc))[0]
    assert reconnect_event["actor"] == "bob" and reconnect_event["actor_name"] == "Bob Admin"
    assert reconnect_event["details"]["organization_changed"] is False
    assert reconnect_event["details"]["previous_organization_id"] == ORG_A


async def test_reconnect_to_another_organization_sets_history_floor(
    cc: httpx.AsyncClient, sandbox: SandboxHandle, db: AsyncEngine
) -> None:
    await cc.post("/api/v1/apps/classy/connect", headers=ADMIN)
    assert (await _save(cc, sandbox)).status_code == 200
    synced = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    await _set(db, "UPDATE integration SET last_synced_at = :t", t=synced)
    await cc.post("/api/v1/apps/classy/disconnect", headers=ADMIN)
    response = await cc.post(
        "/api/v1/apps/classy/reconnect",
        headers=ADMIN,
        json=creds(sandbox.client_id, sandbox.client_secret, ORG_B),
    )
    assert response.status_code == 200, response.text
    assert response.json()["organization_id"] == ORG_B
    row = await _row(db, "sync_requested_trigger", "history_floor_at")
    assert row == {"sync_requested_trigger": "reconnect", "history_floor_at": synced}
    details = (await events(cc))[0]["details"]
    assert details["organization_changed"] is True and details["previous_organization_id"] == ORG_A


async def test_never_synced_then_other_org_floors_at_disconnect(
    cc: httpx.AsyncClient, sandbox: SandboxHandle, db: AsyncEngine
) -> None:
    await cc.post("/api/v1/apps/classy/connect", headers=ADMIN)
    await _save(cc, sandbox)
    await cc.post("/api/v1/apps/classy/disconnect", headers=ADMIN)
    # Connect + Save after a disconnect is a reconnect too (the old organization's data is kept).
    await cc.post("/api/v1/apps/classy/connect", headers=ADMIN)
    assert (await _save(cc, sandbox, org=ORG_B)).status_code == 200
    row = await _row(db, "sync_requested_trigger", "history_floor_at", "disconnected_at")
    assert row["sync_requested_trigger"] == "reconnect"
    assert row["history_floor_at"] == row["disconnected_at"] is not None


@pytest.mark.parametrize(
    ("override", "org", "code", "fragment"),
    [
        ({"client_secret": "wrong-secret-123"}, ORG_A, "invalid_credentials", "Client ID or Client Secret"),
        ({"client_id": "nobody"}, ORG_A, "invalid_credentials", "Client ID or Client Secret"),
        ({}, 99, "organization_not_accessible", "organization 99 is not readable"),
        (
            {"client_id": "limited"},
            ORG_B,
            "organization_not_accessible",
            f"organization {ORG_B} is not readable",
        ),
    ],
)
async def test_rejected_save_stores_nothing(
    cc: httpx.AsyncClient,
    sandbox: SandboxHandle,
    db: AsyncEngine,
    override: dict[str, str],
    org: int,
    code: str,
    fragment: str,
) -> None:
    # An app created in organization A only.
    httpx.post(
        f"{sandbox.control_url}/apps",
        json={"client_id": "limited", "client_secret": sandbox.client_secret, "organization_ids": [ORG_A]},
    ).raise_for_status()
    await cc.post("/api/v1/apps/classy/connect", headers=ADMIN)
    before = await status(cc)
    response = await _save(cc, sandbox, org=org, **override)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
    assert fragment in response.json()["detail"]
    assert "secret" not in response.json()["detail"].lower() or code == "invalid_credentials"
    assert "wrong-secret-123" not in response.text
    assert await status(cc) == before
    async with db.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM credential"))).scalar() == 0
    event = (await events(cc))[0]
    assert event["action"] == "credentials_rejected" and event["details"]["reason"] == code
    assert "wrong-secret-123" not in str(event) and sandbox.client_secret not in str(event)


async def test_credential_row_holds_no_plaintext(
    cc: httpx.AsyncClient, sandbox: SandboxHandle, db: AsyncEngine, cc_settings: Settings
) -> None:
    await cc.post("/api/v1/apps/classy/connect", headers=ADMIN)
    assert (await _save(cc, sandbox)).status_code == 200
    assert sandbox.store is not None
    issued = list(sandbox.store.auth.tokens)
    assert issued
    async with db.connect() as connection:
        row = (await connection.execute(text("SELECT * FROM credential"))).mappings().one()
        dump = b"".join(value if isinstance(value, bytes) else str(value).encode() for value in row.values())
    assert sandbox.client_secret.encode() not in dump
    assert row["client_secret_key_id"] == "k2" and row["access_token_key_id"] == "k2"
    assert row["token_expires_at"] is not None
    token_in_db = None
    for token in issued:
        assert token.encode() not in dump
    async with db.connect() as connection:
        from sqlalchemy.ext.asyncio import AsyncSession

        async with AsyncSession(bind=connection) as session:
            plain = await load_credentials(
                session, Encryptor(cc_settings.encryption_key_ring()), row["integration_id"]
            )
            assert plain is not None
            token_in_db = plain.access_token
    assert plain.client_secret == sandbox.client_secret and token_in_db in issued


async def test_sync_running_blocks_manual_sync(
    cc: httpx.AsyncClient, sandbox: SandboxHandle, db: AsyncEngine
) -> None:
    await cc.post("/api/v1/apps/classy/connect", headers=ADMIN)
    await _save(cc, sandbox)
    lease = datetime.now(UTC) + timedelta(minutes=2)
    await _set(db, "UPDATE integration SET lease_expires_at = :t, lease_owner = 'w1'", t=lease)
    await _set(
        db,
        "INSERT INTO sync_run (integration_id, organization_id, trigger, status, started_at, streams) "
        "SELECT id, :org, 'initial', 'running', now(), '{}'::jsonb FROM integration",
        org=ORG_A,
    )
    assert (await status(cc, MEMBER))["sync_running"] is True
    response = await cc.post("/api/v1/apps/classy/sync", headers=ADMIN)
    assert response.status_code == 409 and response.json()["code"] == "sync_running"
    runs = (await cc.get("/api/v1/apps/classy/sync-runs", headers=MEMBER)).json()
    assert runs["next_cursor"] is None
    assert runs["items"][0]["status"] == "running" and runs["items"][0]["organization_id"] == ORG_A
    # A lapsed lease means the worker died: not running any more.
    await _set(db, "UPDATE integration SET lease_expires_at = now() - interval '1 second'")
    assert (await status(cc))["sync_running"] is False
    assert (await cc.post("/api/v1/apps/classy/sync", headers=ADMIN)).status_code == 202


async def test_history_pagination_and_tenancy(cc: httpx.AsyncClient, sandbox: SandboxHandle) -> None:
    await cc.post("/api/v1/apps/classy/connect", headers=ADMIN)
    await _save(cc, sandbox)
    for _ in range(3):
        await cc.post("/api/v1/apps/classy/pause", headers=ADMIN)
        await cc.post("/api/v1/apps/classy/resume", headers=ADMIN)
    seen: list[int] = []
    cursor: str | None = None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await cc.get("/api/v1/apps/classy/events", headers=MEMBER, params=params)).json()
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 8 and seen == sorted(seen, reverse=True)
    assert (await cc.get("/api/v1/apps/classy/events", headers=OTHER_ADMIN)).json()["items"] == []
    assert (await status(cc, OTHER_ADMIN))["status"] == "available"
    assert (await cc.post("/api/v1/apps/classy/pause", headers=OTHER_ADMIN)).status_code == 409
    assert (await status(cc))["status"] == "connected"


async def test_concurrent_saves_one_connects(
    cc: httpx.AsyncClient, sandbox: SandboxHandle, db: AsyncEngine
) -> None:
    import asyncio

    await cc.post("/api/v1/apps/classy/connect", headers=ADMIN)
    results = await asyncio.gather(_save(cc, sandbox), _save(cc, sandbox, headers=ADMIN2))
    assert sorted(r.status_code for r in results) == [200, 409]
    body = await status(cc)
    assert body["status"] == "connected" and body["version"] == 2
    assert [e["action"] for e in await events(cc)] == ["save_credentials", "connect"]
