"""Forged, foreign and stale bearer tokens are refused (401); audience and issuer when configured."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.security.tokens import issue_token
from tests.conftest import JWT_SECRET, bearer, make_settings, running_app

APPS = "/api/v1/apps"


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "alice", "account": "acme", "role": "admin", "iat": now, "exp": now + 600, **extra}


def header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def unsigned(payload: dict[str, Any]) -> str:
    """An `alg: none` token: the header and claims, no signature."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


async def refused(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    response = await client.get(APPS, headers=header(token))
    assert response.status_code == 401, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"detail", "code"} and body["code"] == "invalid_token"
    return body


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_forged_tokens_are_refused(client: httpx.AsyncClient) -> None:
    other_secret = jwt.encode(claims(), "another-secret-of-the-same-length-0123456789", algorithm="HS256")
    await refused(client, other_secret)
    await refused(client, unsigned(claims()))
    await refused(client, unsigned(claims()).rstrip(".") + ".c2lnbmF0dXJl")
    # A signature made with HS512 under the right secret: only HS256 is accepted.
    await refused(client, jwt.encode(claims(), JWT_SECRET, algorithm="HS512"))
    # The right token with one claim changed after signing.
    good = jwt.encode(claims(role="member"), JWT_SECRET, algorithm="HS256")
    head, _, signature = good.split(".")
    tampered = base64.urlsafe_b64encode(json.dumps(claims(role="admin")).encode()).rstrip(b"=").decode()
    await refused(client, f"{head}.{tampered}.{signature}")
    assert (await client.get(APPS, headers=header(good))).status_code == 200


async def test_a_small_clock_difference_is_tolerated(client: httpx.AsyncClient) -> None:
    now = int(time.time())
    # The leeway is for `iat`/`nbf` only: an expired token is refused at once (API.md section 2).
    just_expired = jwt.encode(claims(iat=now - 600, exp=now - 2), JWT_SECRET, algorithm="HS256")
    assert (await refused(client, just_expired))["detail"] == "The bearer token has expired."
    long_expired = jwt.encode(claims(iat=now - 600, exp=now - 120), JWT_SECRET, algorithm="HS256")
    assert (await refused(client, long_expired))["detail"] == "The bearer token has expired."
    issued_ahead = jwt.encode(claims(iat=now + 10), JWT_SECRET, algorithm="HS256")
    assert (await client.get(APPS, headers=header(issued_ahead))).status_code == 200


@pytest.fixture
async def strict_client(db: AsyncEngine, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(database_url, JWT_AUDIENCE="classy-sync", JWT_ISSUER="https://crm.example")
    async with running_app(settings) as (_, client):
        yield client


async def test_audience_and_issuer_are_checked_when_configured(strict_client: httpx.AsyncClient) -> None:
    client = strict_client
    good = issue_token(
        JWT_SECRET,
        sub="alice",
        account="acme",
        role="admin",
        audience="classy-sync",
        issuer="https://crm.example",
    )
    assert (await client.get(APPS, headers=header(good))).status_code == 200
    wrong_aud = jwt.encode(claims(aud="billing", iss="https://crm.example"), JWT_SECRET, algorithm="HS256")
    assert "audience" in (await refused(client, wrong_aud))["detail"]
    wrong_iss = jwt.encode(
        claims(aud="classy-sync", iss="https://evil.example"), JWT_SECRET, algorithm="HS256"
    )
    assert "issuer" in (await refused(client, wrong_iss))["detail"]
    no_aud = jwt.encode(claims(iss="https://crm.example"), JWT_SECRET, algorithm="HS256")
    assert "'aud'" in (await refused(client, no_aud))["detail"]
    no_iss = jwt.encode(claims(aud="classy-sync"), JWT_SECRET, algorithm="HS256")
    assert "'iss'" in (await refused(client, no_iss))["detail"]


async def test_the_caller_is_refused_before_the_body_or_query_is_read(client: httpx.AsyncClient) -> None:
    """A broken body or query never hides a missing token (401) or a member's change (403)."""
    broken = {"content-type": "application/json"}
    member = {**bearer(role="member"), **broken}
    for method, path in (("PUT", f"{APPS}/classy/credentials"), ("POST", f"{APPS}/classy/sync")):
        anonymous = await client.request(method, path, content=b"{bad", headers=broken)
        assert anonymous.status_code == 401, anonymous.text
        assert anonymous.json()["code"] == "not_authenticated"
        assert anonymous.headers["WWW-Authenticate"] == "Bearer"
        forged = await client.request(method, path, content=b"{bad", headers={**header("x.y.z"), **broken})
        assert forged.status_code == 401 and forged.json()["code"] == "invalid_token", forged.text
        refused_member = await client.request(method, path, content=b"{bad", headers=member)
        assert refused_member.status_code == 403 and refused_member.json()["code"] == "forbidden"
        admin = await client.request(method, path, content=b"{bad", headers={**bearer(), **broken})
        assert admin.status_code == 400 and admin.json()["code"] == "invalid_json", admin.text
    nul = await client.get("/api/v1/contacts", params={"email": "a\x00b"})
    assert nul.status_code == 401
    assert (
        await client.get("/api/v1/contacts", params={"email": "a\x00b"}, headers=bearer())
    ).status_code == 422
    # A member still reads.
    assert (await client.get(f"{APPS}/classy", headers=bearer(role="member"))).status_code == 200
