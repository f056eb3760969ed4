"""Token grants, error bodies, authorize redirects, 401/403/404."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sandbox.server import SandboxHandle
from tests.sandbox.conftest import app_token

pytestmark = pytest.mark.timeout(30)

INVALID_TOKEN = {"error": "invalid_token", "error_description": "The access token is invalid or has expired"}


async def test_client_credentials_form_and_json(shared: SandboxHandle) -> None:
    async with httpx.AsyncClient(timeout=10) as c:
        form = await c.post(
            shared.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": shared.client_id,
                "client_secret": shared.client_secret,
            },
        )
        js = await c.post(
            shared.token_url,
            json={
                "grant_type": "client_credentials",
                "client_id": shared.client_id,
                "secret_key": shared.client_secret,
            },
        )
    for r in (form, js):
        assert r.status_code == 200
        body = r.json()
        assert set(body) == {"access_token", "expires_in", "token_type"}
        assert body["token_type"] == "bearer" and body["expires_in"] == 3600
        assert "x-ratelimit-limit" in r.headers


async def test_token_validation_errors(shared: SandboxHandle) -> None:
    async with httpx.AsyncClient(timeout=10) as c:
        no_id = await c.post(
            shared.token_url, data={"grant_type": "client_credentials", "client_secret": "x"}
        )
        no_secret = await c.post(
            shared.token_url, json={"grant_type": "client_credentials", "client_id": shared.client_id}
        )
        bad_json = await c.post(
            shared.token_url, content=b"{nope", headers={"content-type": "application/json"}
        )
    assert no_id.status_code == 400
    assert no_id.json() == {"error": {"client_id": ["The client id field is required."]}, "queries_log": []}
    assert no_secret.status_code == 400
    assert no_secret.json() == {
        "error": {
            "secret_key": ["The secret key field is required when client secret is not present."],
            "client_secret": ["The client secret field is required when secret key is not present."],
        },
        "queries_log": [],
    }
    assert bad_json.status_code == 400 and bad_json.json() == {"errors": ["Malformed JSON payload."]}


@pytest.mark.parametrize(("client_id", "secret"), [("sandbox-client", "wrong"), ("nobody", "sandbox-secret")])
async def test_invalid_client(shared: SandboxHandle, client_id: str, secret: str) -> None:
    async with httpx.AsyncClient(timeout=10) as c:
        r = await c.post(
            shared.token_url,
            data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        )
    assert r.status_code == 400
    assert r.json() == {"error": "invalid_client", "error_description": "Invalid client authentication"}


async def test_unsupported_grant(shared: SandboxHandle) -> None:
    async with httpx.AsyncClient(timeout=10) as c:
        r = await c.post(
            shared.token_url,
            data={
                "grant_type": "implicit",
                "client_id": shared.client_id,
                "client_secret": shared.client_secret,
            },
        )
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"


async def test_password_and_refresh_rotation(shared: SandboxHandle) -> None:
    base = {"client_id": shared.client_id, "client_secret": shared.client_secret}
    async with httpx.AsyncClient(timeout=10) as c:
        missing = await c.post(shared.token_url, data={**base, "grant_type": "password"})
        bad = await c.post(
            shared.token_url,
            data={**base, "grant_type": "password", "username": shared.member_username, "password": "nope"},
        )
        ok = await c.post(
            shared.token_url,
            data={
                **base,
                "grant_type": "password",
                "username": shared.member_username,
                "password": shared.member_password,
            },
        )
        refresh = ok.json()["refresh_token"]
        again = await c.post(
            shared.token_url, json={**base, "grant_type": "refresh_token", "refresh_token": refresh}
        )
        reused = await c.post(
            shared.token_url, json={**base, "grant_type": "refresh_token", "refresh_token": refresh}
        )
        me = await c.get(
            f"{shared.api_url}/me", headers={"Authorization": f"Bearer {again.json()['access_token']}"}
        )
    assert missing.status_code == 400 and set(missing.json()["error"]) == {"username", "password"}
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    assert ok.status_code == 200 and set(ok.json()) == {
        "access_token",
        "expires_in",
        "token_type",
        "refresh_token",
    }
    assert again.status_code == 200 and again.json()["refresh_token"] != refresh
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert me.status_code == 200 and me.json()["email_address"] == shared.member_username


async def test_authorization_code_flow(fresh: SandboxHandle) -> None:
    redirect = "http://localhost:9999/oauth/callback"
    async with httpx.AsyncClient(timeout=10) as c:
        r = await c.post(f"{fresh.control_url}/apps/{fresh.client_id}", json={"redirect_uris": [redirect]})
        assert r.status_code == 200
        params = {
            "client_id": fresh.client_id,
            "response_type": "code",
            "redirect_uri": redirect,
            "state": "s-123",
            "scope": "read",
        }
        auth = await c.get(fresh.authorize_url, params=params)
        assert auth.status_code == 302
        loc = urlsplit(auth.headers["location"])
        assert f"{loc.scheme}://{loc.netloc}{loc.path}" == redirect
        q = parse_qs(loc.query)
        assert q["state"] == ["s-123"]
        code = q["code"][0]
        body = {
            "grant_type": "authorization_code",
            "client_id": fresh.client_id,
            "client_secret": fresh.client_secret,
            "code": code,
            "redirect_uri": redirect,
        }
        first = await c.post(fresh.token_url, data=body)
        second = await c.post(fresh.token_url, data=body)
        wrong_uri = await c.get(fresh.authorize_url, params={**params, "redirect_uri": "http://evil/cb"})
        wrong_type = await c.get(fresh.authorize_url, params={**params, "response_type": "token"})
        unknown = await c.get(fresh.authorize_url, params={**params, "client_id": "nobody"})
    assert first.status_code == 200 and "refresh_token" in first.json()
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"
    assert wrong_uri.status_code == 400 and wrong_uri.json()["error"] == "invalid_request"
    assert (
        wrong_type.status_code == 302 and "error=unsupported_response_type" in wrong_type.headers["location"]
    )
    assert unknown.status_code == 400


async def test_401_missing_bad_and_expired(fresh: SandboxHandle) -> None:
    org = fresh.organization_ids[0]
    async with httpx.AsyncClient(base_url=fresh.api_url, timeout=10) as c:
        missing = await c.get(f"/organizations/{org}/supporters")
        bad = await c.get(f"/organizations/{org}/supporters", headers={"Authorization": "Bearer nope"})
        await c.post(f"{fresh.control_url}/token-lifetime", json={"seconds": 1})
        token = await app_token(fresh, c)
        hdr = {"Authorization": f"Bearer {token}"}
        fine = await c.get(f"/organizations/{org}/supporters", headers=hdr)
        await asyncio.sleep(1.2)
        expired = await c.get(f"/organizations/{org}/supporters", headers=hdr)
        token2 = await app_token(fresh, c)
        await c.post(f"{fresh.control_url}/tokens/revoke", json={})
        revoked = await c.get(f"/organizations/{org}", headers={"Authorization": f"Bearer {token2}"})
    for r in (missing, bad, expired, revoked):
        assert r.status_code == 401 and r.json() == INVALID_TOKEN
        assert "x-ratelimit-limit" in r.headers and "x-ratelimit-remaining" in r.headers
    assert fine.status_code == 200


async def test_secret_rotation(fresh: SandboxHandle) -> None:
    async with httpx.AsyncClient(timeout=10) as c:
        old = await app_token(fresh, c)
        await c.post(
            f"{fresh.control_url}/apps/{fresh.client_id}",
            json={"client_secret": "new-secret", "revoke_tokens": True},
        )
        denied = await c.post(
            fresh.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": fresh.client_id,
                "client_secret": fresh.client_secret,
            },
        )
        allowed = await c.post(
            fresh.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": fresh.client_id,
                "client_secret": "new-secret",
            },
        )
        stale = await c.get(
            f"{fresh.api_url}/organizations/{fresh.organization_ids[0]}",
            headers={"Authorization": f"Bearer {old}"},
        )
    assert denied.status_code == 400 and allowed.status_code == 200 and stale.status_code == 401


async def test_403_and_404(fresh: SandboxHandle) -> None:
    first, second = fresh.organization_ids
    async with httpx.AsyncClient(base_url=fresh.api_url, timeout=10) as c:
        await c.post(
            f"{fresh.control_url}/apps",
            json={"client_id": "narrow", "client_secret": "s", "organization_ids": [first]},
        )
        r = await c.post(
            fresh.token_url,
            data={"grant_type": "client_credentials", "client_id": "narrow", "client_secret": "s"},
        )
        hdr = {"Authorization": f"Bearer {r.json()['access_token']}"}
        ok = await c.get(f"/organizations/{first}/transactions", headers=hdr)
        forbidden = await c.get(f"/organizations/{second}/transactions", headers=hdr)
        org_forbidden = await c.get(f"/organizations/{second}", headers=hdr)
        unknown = await c.get("/organizations/1/transactions", headers=hdr)
        unknown_path = await c.get(f"/organizations/{first}/nothing-here", headers=hdr)
        org = await c.get(f"/organizations/{first}", headers=hdr)
        linked = await c.get("/apps/narrow/organizations", headers=hdr)
    assert ok.status_code == 200
    assert forbidden.status_code == 403
    assert forbidden.json() == {
        "error": "This action is unauthorized.",
        "permissions": [{"action": "fetch", "entity": "transaction"}],
    }
    assert org_forbidden.status_code == 403
    assert unknown.status_code == 404 and unknown.json() == {"error": "The resource cannot be found"}
    assert unknown_path.status_code == 404 and unknown_path.json() == {
        "error": "The resource cannot be found"
    }
    assert org.status_code == 200 and org.json()["id"] == first and org.json()["currency_code"] == "USD"
    assert [o["id"] for o in linked.json()["data"]] == [first]
