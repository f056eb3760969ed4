"""API.md §2: an expired bearer token → 401 JSON, however recently it expired."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest

from tests.conftest import JWT_SECRET


@pytest.mark.parametrize("ago", [1, 10, 3600])
async def test_expired_token_is_401(client: httpx.AsyncClient, ago: int) -> None:
    now = int(time.time())
    claims = {"sub": "alice", "account": "acme", "role": "admin", "iat": now - 7200, "exp": now - ago}
    token = jwt.encode(claims, JWT_SECRET, algorithm="HS256")
    response = await client.get("/api/v1/apps/classy", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json() == {"detail": "The bearer token has expired.", "code": "invalid_token"}
    assert response.headers["X-Request-ID"]
