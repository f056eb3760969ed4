"""Shared pieces of the lifecycle API tests: apps configured against a Classy, and request helpers."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from app.settings import Settings
from tests.conftest import bearer, make_settings, running_app

ADMIN = bearer("acme", "alice", "admin", name="Alice Admin")
ADMIN2 = bearer("acme", "bob", "admin", name="Bob Admin")
MEMBER = bearer("acme", "mary", "member")
OTHER_ADMIN = bearer("globex", "gus", "admin")


def closed_port_url() -> str:
    """A loopback URL nothing listens on (Classy unreachable)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def classy_settings(
    database_url: str, *, api_url: str, token_url: str, authorize_url: str, **extra: Any
) -> Settings:
    return make_settings(
        database_url,
        CLASSY_API_URL=api_url,
        CLASSY_TOKEN_URL=token_url,
        CLASSY_AUTHORIZE_URL=authorize_url,
        FRONTEND_URL="http://crm.example/console",
        **extra,
    )


@asynccontextmanager
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(settings) as (_, client):
        yield client


def creds(client_id: str, client_secret: str, organization_id: Any) -> dict[str, Any]:
    return {"client_id": client_id, "client_secret": client_secret, "organization_id": organization_id}


async def status(client: httpx.AsyncClient, headers: dict[str, str] = ADMIN) -> dict[str, Any]:
    response = await client.get("/api/v1/apps/classy", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def events(client: httpx.AsyncClient, headers: dict[str, str] = ADMIN) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/apps/classy/events", headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items
