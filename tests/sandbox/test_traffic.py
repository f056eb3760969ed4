"""Rate-limit headers and enforcement, injected faults, the request log."""

from __future__ import annotations

import time

import httpx
import pytest

from sandbox.server import SandboxHandle

pytestmark = pytest.mark.timeout(60)


async def test_rate_limit_enforced(fresh: SandboxHandle, fresh_api: httpx.AsyncClient) -> None:
    async with httpx.AsyncClient(timeout=10) as c:
        await c.post(f"{fresh.control_url}/rate-limit", json={"requests_per_minute": 5})
    path = f"/organizations/{fresh.organization_ids[0]}/supporters"
    responses = [await fresh_api.get(path) for _ in range(7)]
    assert [r.status_code for r in responses] == [200] * 5 + [429] * 2
    assert [r.headers["x-ratelimit-remaining"] for r in responses[:5]] == ["4", "3", "2", "1", "0"]
    assert all(r.headers["x-ratelimit-limit"] == "5" for r in responses)
    limited = responses[-1]
    retry = int(limited.headers["retry-after"])
    assert 1 <= retry <= 60
    assert abs(int(limited.headers["x-ratelimit-reset"]) - (time.time() + retry)) <= 2
    assert limited.json() == {"message": "Too Many Attempts.", "retry_after": retry}
    assert "retry-after" not in responses[0].headers
    async with httpx.AsyncClient(timeout=10) as c:
        log = (await c.get(f"{fresh.control_url}/requests")).json()
    assert log["rate_limited"] == 2 and log["rate_limit_rejections"] == 2


async def test_fault_next_n(fresh: SandboxHandle, fresh_api: httpx.AsyncClient) -> None:
    async with httpx.AsyncClient(timeout=10) as c:
        r = await c.post(f"{fresh.control_url}/faults", json={"kind": "503", "count": 2, "retry_after": 3})
        assert r.status_code == 201
    path = f"/organizations/{fresh.organization_ids[0]}"
    statuses = [await fresh_api.get(path) for _ in range(3)]
    assert [r.status_code for r in statuses] == [503, 503, 200]
    assert statuses[0].headers["retry-after"] == "3" and "x-ratelimit-remaining" in statuses[0].headers


async def test_fault_429_and_500(fresh: SandboxHandle, fresh_api: httpx.AsyncClient) -> None:
    async with httpx.AsyncClient(timeout=10) as c:
        await c.post(f"{fresh.control_url}/faults", json={"kind": "429", "count": 1, "retry_after": 2})
        await c.post(f"{fresh.control_url}/faults", json={"kind": "500", "count": 1})
        bad = await c.post(f"{fresh.control_url}/faults", json={"kind": "teapot", "count": 1})
    assert bad.status_code == 400
    path = f"/organizations/{fresh.organization_ids[0]}"
    first, second, third = [await fresh_api.get(path) for _ in range(3)]
    assert (
        first.status_code == 429
        and first.headers["retry-after"] == "2"
        and "x-ratelimit-reset" in first.headers
    )
    assert first.json()["message"] == "Too Many Attempts."
    assert second.status_code == 500 and third.status_code == 200


async def test_fault_rate_is_seeded_and_roughly_right(
    fresh: SandboxHandle, fresh_api: httpx.AsyncClient
) -> None:
    async with httpx.AsyncClient(timeout=10) as c:
        await c.post(f"{fresh.control_url}/faults", json={"kind": "500", "rate": 0.3})
    path = f"/organizations/{fresh.organization_ids[0]}"
    codes = [(await fresh_api.get(path)).status_code for _ in range(200)]
    assert set(codes) == {200, 500}
    assert 30 <= codes.count(500) <= 90
    async with httpx.AsyncClient(timeout=10) as c:
        await c.delete(f"{fresh.control_url}/faults")
        faults = (await c.get(f"{fresh.control_url}/faults")).json()
    assert faults["rules"] == [] and faults["injected"] == codes.count(500)
    assert (await fresh_api.get(path)).status_code == 200


@pytest.mark.parametrize("kind", ["drop", "reset"])
async def test_dropped_connection(fresh: SandboxHandle, fresh_api: httpx.AsyncClient, kind: str) -> None:
    async with httpx.AsyncClient(timeout=10) as c:
        await c.post(f"{fresh.control_url}/faults", json={"kind": kind, "count": 1})
    path = f"/organizations/{fresh.organization_ids[0]}/transactions"
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        await fresh_api.get(path)
    assert (await fresh_api.get(path)).status_code == 200
    async with httpx.AsyncClient(timeout=10) as c:
        log = (await c.get(f"{fresh.control_url}/requests")).json()
    assert any(e["status"] == "dropped" for e in log["requests"])


async def test_latency(fresh: SandboxHandle, fresh_api: httpx.AsyncClient) -> None:
    async with httpx.AsyncClient(timeout=10) as c:
        await c.post(f"{fresh.control_url}/faults", json={"kind": "latency", "count": 1, "latency_ms": 300})
    path = f"/organizations/{fresh.organization_ids[0]}"
    start = time.monotonic()
    assert (await fresh_api.get(path)).status_code == 200
    assert time.monotonic() - start >= 0.3
    start = time.monotonic()
    await fresh_api.get(path)
    assert time.monotonic() - start < 0.3


async def test_request_log(fresh: SandboxHandle, fresh_api: httpx.AsyncClient) -> None:
    async with httpx.AsyncClient(timeout=10) as c:
        await c.delete(f"{fresh.control_url}/requests")
        await fresh_api.get(
            f"/organizations/{fresh.organization_ids[0]}/supporters",
            params={"filter": "updated_at>=2024-01-01T00:00:00+0000"},
        )
        await fresh_api.get("/organizations/1/supporters")
        log = (await c.get(f"{fresh.control_url}/requests")).json()
    first, second = log["requests"]
    assert first["method"] == "GET" and first["status"] == 200 and first["app"] == fresh.client_id
    assert first["path"].endswith("/supporters") and "%2B0000" in first["query"]
    assert second["status"] == 404 and isinstance(second["time"], float)
    assert log["by_status"] == {"200": 1, "404": 1}
