"""Request ids, HTTP metrics (a 500 included), sync freshness and build info in /metrics."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.classy.ratelimit import RateLimiter
from app.db.base import utc_now
from app.logging import JsonFormatter
from app.settings import Settings
from tests.conftest import bearer, running_app


@pytest.fixture
async def app_and_client(
    db: AsyncEngine, settings: Settings
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The service, with a client that receives 500s as responses (as a real server sends them)."""
    async with running_app(settings) as (app, _):

        async def boom() -> None:
            raise RuntimeError("an unexpected failure")

        app.add_api_route("/boom-for-test", boom)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app, client


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield buffer
    root.removeHandler(handler)


def sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text, 0 when absent."""
    for line in metrics.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def metrics(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return response.text


async def test_a_500_is_counted_and_carries_the_request_id(
    app_and_client: tuple[FastAPI, httpx.AsyncClient], captured_logs: io.StringIO
) -> None:
    _, client = app_and_client
    labels = {"method": "GET", "route": "/boom-for-test", "status": "500"}
    before = sample(await metrics(client), "classy_sync_http_requests_total", **labels)
    response = await client.get("/boom-for-test", headers={"X-Request-ID": "trace-500-abc"})
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert response.headers["X-Request-ID"] == "trace-500-abc"
    text_ = await metrics(client)
    assert sample(text_, "classy_sync_http_requests_total", **labels) == before + 1
    assert (
        sample(text_, "classy_sync_http_request_duration_seconds_count", method="GET", route="/boom-for-test")
        >= 1
    )
    # The error's log line names the request it belongs to.
    lines = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
    errors = [line for line in lines if line["message"] == "unhandled error"]
    assert errors and errors[0]["request_id"] == "trace-500-abc"


async def test_request_ids_are_kept_sanitized_or_made(
    app_and_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = app_and_client
    own = await client.get("/healthz", headers={"X-Request-ID": "abc-123_DEF.4:5"})
    assert own.headers["X-Request-ID"] == "abc-123_DEF.4:5"
    spaced = await client.get("/healthz", headers={"X-Request-ID": "trace 7f/2; span=9"})
    assert spaced.headers["X-Request-ID"] == "trace 7f/2; span=9"  # the caller's own, as sent
    dirty = await client.get("/healthz", headers={"X-Request-ID": 'a b"<x>{}\t;x\x7f'})
    assert dirty.headers["X-Request-ID"] == 'a b"<x>{};x'  # control characters dropped
    long = await client.get("/healthz", headers={"X-Request-ID": "r" * 500})
    assert long.headers["X-Request-ID"] == "r" * 200
    made = await client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])
    assert made.headers["X-Request-ID"] != (await client.get("/healthz")).headers["X-Request-ID"]
    # Also on responses the service refuses early (middleware) and on 404s.
    assert (await client.get("/nope", headers={"X-Request-ID": "n-1"})).headers["X-Request-ID"] == "n-1"


async def test_metrics_carry_freshness_build_and_pacing(
    app_and_client: tuple[FastAPI, httpx.AsyncClient], db: AsyncEngine
) -> None:
    _, client = app_and_client
    for account in ("acme", "globex"):
        assert (await client.post("/api/v1/apps/classy/connect", headers=bearer(account))).status_code == 200
    now = utc_now()
    async with db.begin() as connection:
        await connection.execute(
            text(
                "UPDATE integration SET status = 'connected', connected_at = :c, last_synced_at = :s"
                " WHERE account = 'acme'"
            ),
            {"c": now - timedelta(days=3), "s": now - timedelta(hours=2)},
        )
        await connection.execute(
            text("UPDATE integration SET status = 'paused', last_synced_at = :s WHERE account = 'globex'"),
            {"s": now - timedelta(days=30)},
        )
    before = await metrics(client)
    waits_before = sample(before, "classy_sync_classy_ratelimit_waits_total")
    waited_before = sample(before, "classy_sync_classy_ratelimit_wait_seconds_total")

    async def no_sleep(_: float) -> None:
        return None

    paced = RateLimiter(60, burst=1, sleep=no_sleep)
    await paced.acquire()
    await paced.acquire()  # the second request of a 60/min app waits about a second
    body = await metrics(client)
    assert sample(body, "classy_sync_classy_ratelimit_waits_total") == waits_before + 1
    age = sample(body, "classy_sync_oldest_successful_sync_age_seconds")
    assert 7200 <= age < 7260, "paused integrations do not count; the connected one synced 2 h ago"
    assert sample(body, "classy_sync_integrations", status="connected") == 1
    assert sample(body, "classy_sync_integrations", status="paused") == 1
    assert 'classy_sync_build_info{commit="' in body and 'version="' in body
    # About a second: one second after the first request, less the microseconds spent in between.
    waited = sample(body, "classy_sync_classy_ratelimit_wait_seconds_total") - waited_before
    assert 0.9 <= waited <= 1.0, waited
