"""Fixtures: sandboxes served over real loopback HTTP by uvicorn in a background thread."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from sandbox.generate import Sizes
from sandbox.server import SandboxHandle, run_sandbox
from sandbox.store import SandboxConfig

SMALL = Sizes(supporters=300, transactions=900, registrations=120, campaigns=6, plans=40)


def small_config(**overrides: object) -> SandboxConfig:
    cfg = SandboxConfig(seed=7, organizations=2, sizes=SMALL, rate_limit=0)
    for k, v in overrides.items():
        setattr(cfg, k, v)
    return cfg


@pytest.fixture(scope="session")
def shared() -> Iterator[SandboxHandle]:
    """A read-only sandbox shared by the whole session (never mutate it)."""
    with run_sandbox(small_config()) as handle:
        yield handle


@pytest.fixture
def fresh() -> Iterator[SandboxHandle]:
    """A sandbox of its own for tests that mutate data, apps, faults or limits."""
    with run_sandbox(small_config()) as handle:
        yield handle


async def app_token(handle: SandboxHandle, client: httpx.AsyncClient) -> str:
    r = await client.post(
        handle.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": handle.client_id,
            "client_secret": handle.client_secret,
        },
    )
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


async def authed(handle: SandboxHandle) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=handle.api_url, timeout=10)
    client.headers["Authorization"] = f"Bearer {await app_token(handle, client)}"
    return client


@pytest.fixture
async def api(shared: SandboxHandle) -> AsyncIterator[httpx.AsyncClient]:
    """An authenticated client on the shared sandbox (base URL = /2.0)."""
    client = await authed(shared)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def fresh_api(fresh: SandboxHandle) -> AsyncIterator[httpx.AsyncClient]:
    client = await authed(fresh)
    try:
        yield client
    finally:
        await client.aclose()
