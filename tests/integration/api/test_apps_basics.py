"""Directory, status, roles, tenancy and state conflicts: what needs no Classy at all."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.settings import Settings
from tests.integration.api.lifecycle_helpers import (
    ADMIN,
    ADMIN2,
    MEMBER,
    OTHER_ADMIN,
    api,
    classy_settings,
    closed_port_url,
    creds,
    events,
    status,
)


async def test_requests_without_token_get_json_401(client: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/api/v1/apps"),
        ("GET", "/api/v1/apps/classy"),
        ("POST", "/api/v1/apps/classy/connect"),
        ("GET", "/api/v1/apps/classy/events"),
    ]:
        response = await client.request(method, path)
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
    bad = await client.get("/api/v1/apps", headers={"Authorization": "Bearer not-a-jwt"})
    assert bad.status_code == 401
    assert bad.json() == {"detail": "The bearer token is not valid.", "code": "invalid_token"}


async def test_directory_and_status_before_connect(client: httpx.AsyncClient, settings: Settings) -> None:
    response = await client.get("/api/v1/apps", headers=MEMBER)
    assert response.json() == [{"slug": "classy", "name": "Classy", "status": "available", "badge": None}]
    body = await status(client, MEMBER)
    assert body["status"] == "available"
    assert body["badge"] is None
    assert body["redirect_uri"] == "http://testserver/oauth/classy/callback" == settings.redirect_uri
    assert body["sync_running"] is False
    assert body["organization_id"] is None and body["client_id"] is None
    assert "client_secret" not in body
    empty = await client.get("/api/v1/apps/classy/sync-runs", headers=MEMBER)
    assert empty.json() == {"items": [], "next_cursor": None}


async def test_member_may_read_but_not_change(client: httpx.AsyncClient) -> None:
    for path in ["connect", "pause", "resume", "disconnect", "sync"]:
        response = await client.post(f"/api/v1/apps/classy/{path}", headers=MEMBER)
        assert response.status_code == 403, path
        assert response.json()["code"] == "forbidden"
    for method, path in [("PUT", "credentials"), ("POST", "reconnect")]:
        response = await client.request(
            method, f"/api/v1/apps/classy/{path}", headers=MEMBER, json=creds("a", "b", 1)
        )
        assert response.status_code == 403
    assert (await status(client, MEMBER))["status"] == "available"


async def test_connect_then_wrong_state_calls_are_409(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/apps/classy/connect", headers=ADMIN)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "awaiting_credentials"
    assert body["redirect_uri"] == "http://testserver/oauth/classy/callback"
    assert body["badge"] is None
    again = await client.post("/api/v1/apps/classy/connect", headers=ADMIN2)
    assert again.status_code == 200 and again.json()["version"] == body["version"]
    for path in ["pause", "resume", "sync", "reconnect"]:
        kwargs = {"json": creds("a", "b", 1)} if path == "reconnect" else {}
        response = await client.post(f"/api/v1/apps/classy/{path}", headers=ADMIN, **kwargs)
        assert response.status_code == 409, path
        assert response.json()["code"] == "invalid_state"
        assert "awaiting_credentials" not in response.json()["detail"]  # a sentence, not a code
    assert [e["action"] for e in await events(client)] == ["connect"]


async def test_save_before_connect_is_409(client: httpx.AsyncClient) -> None:
    response = await client.put("/api/v1/apps/classy/credentials", headers=ADMIN, json=creds("a", "b", 1))
    assert response.status_code == 409
    assert "Connect" in response.json()["detail"]


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (creds("id", "secret", "12ab"), "organization_id"),
        (creds("id", "secret", -5), "organization_id"),
        (creds("id", "secret", 1.5), "organization_id"),
        (creds("id", "secret", True), "organization_id"),
        (creds("id", "secret", None), "organization_id"),
        (creds("", "secret", 1), "client_id"),
        (creds("id", "   ", 1), "client_secret"),
        ({"client_id": "id", "organization_id": 1}, "client_secret"),
    ],
)
async def test_bad_save_input_is_422_sentence(
    client: httpx.AsyncClient, payload: dict[str, object], fragment: str
) -> None:
    await client.post("/api/v1/apps/classy/connect", headers=ADMIN)
    response = await client.put("/api/v1/apps/classy/credentials", headers=ADMIN, json=payload)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["detail"].startswith("The request is invalid:") and fragment in body["detail"]
    assert (await status(client))["status"] == "awaiting_credentials"


async def test_classy_unreachable_is_502_and_nothing_changes(db: AsyncEngine, database_url: str) -> None:
    dead = closed_port_url()
    settings = classy_settings(
        database_url,
        api_url=dead + "/2.0",
        token_url=dead + "/oauth2/auth",
        authorize_url=dead + "/authorize",
    )
    async with api(settings) as client:
        await client.post("/api/v1/apps/classy/connect", headers=ADMIN)
        before = await status(client)
        response = await client.put(
            "/api/v1/apps/classy/credentials", headers=ADMIN, json=creds("cid", "very-secret-value", "82364")
        )
        assert response.status_code == 502, response.text
        assert response.json()["code"] == "classy_unavailable"
        assert "very-secret-value" not in response.text
        assert await status(client) == before
        assert [e["action"] for e in await events(client)] == ["verification_failed", "connect"]
    async with db.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM credential"))).scalar() == 0


async def test_tenants_are_isolated(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/apps/classy/connect", headers=ADMIN)
    other = await status(client, OTHER_ADMIN)
    assert other["status"] == "available"
    assert (await client.get("/api/v1/apps/classy/events", headers=OTHER_ADMIN)).json()["items"] == []
    # Account B acting changes only B's own integration.
    response = await client.post("/api/v1/apps/classy/disconnect", headers=OTHER_ADMIN)
    assert response.status_code == 409
    assert (await status(client))["status"] == "awaiting_credentials"


async def test_bad_cursor_and_limit_are_422(client: httpx.AsyncClient) -> None:
    for query in ["cursor=garbage!", "limit=0", "limit=501"]:
        response = await client.get(f"/api/v1/apps/classy/events?{query}", headers=ADMIN)
        assert response.status_code == 422, query
        assert response.json()["detail"]
