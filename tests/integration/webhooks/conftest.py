"""The service under uvicorn on a loopback port (the sandbox delivers webhooks to it over HTTP)."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from sandbox.generate import Sizes
from sandbox.server import SandboxHandle, run_sandbox
from sandbox.store import SandboxConfig
from sandbox.webhooks import sign
from tests.conftest import service_in_thread

SECRET = "whsec_" + base64.b64encode(b"classy-sync-webhook-test-key!").decode()
TINY = Sizes(supporters=20, transactions=40, registrations=5, campaigns=2, plans=3)


@pytest.fixture
def sandbox() -> Iterator[SandboxHandle]:
    with run_sandbox(SandboxConfig(seed=3, organizations=2, sizes=TINY, rate_limit=0)) as handle:
        yield handle


@dataclass
class LiveService:
    base_url: str


@pytest.fixture
def live(db: AsyncEngine, database_url: str, sandbox: SandboxHandle) -> Iterator[LiveService]:
    """The service with its scheduler on (default 2 s tick, hourly sync) against the sandbox."""
    with service_in_thread(
        database_url,
        name="webhook-service",
        CLASSY_API_URL=sandbox.api_url,
        CLASSY_TOKEN_URL=sandbox.token_url,
        CLASSY_AUTHORIZE_URL=sandbox.authorize_url,
        SCHEDULER_ENABLED=True,
        SYNC_INTERVAL_SECONDS=3600,
        CLASSY_RATE_LIMIT_PER_MINUTE=100_000,
    ) as base:
        yield LiveService(base)


def signed(
    body: bytes, *, secret: str = SECRET, message_id: str = "msg_1", timestamp: int | None = None
) -> dict[str, str]:
    """Svix headers for `body` (signed by the sandbox's own implementation)."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "content-type": "application/json",
        "svix-id": message_id,
        "svix-timestamp": str(ts),
        "svix-signature": sign(secret, message_id, ts, body),
    }


def event(event_type: str = "transaction.created", record_id: int = 1) -> bytes:
    import orjson

    payload: dict[str, Any] = {"type": event_type, "data": {"id": record_id}}
    return orjson.dumps(payload)


async def webhook_path(client: httpx.AsyncClient, headers: dict[str, str], secret: str = SECRET) -> str:
    """Save the signing secret; the path of the URL to paste into Classy."""
    response = await client.put("/api/v1/apps/classy/webhook", headers=headers, json={"secret": secret})
    assert response.status_code == 200, response.text
    url: str = response.json()["url"]
    return "/" + url.split("/", 3)[3]
