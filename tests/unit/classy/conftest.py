"""Shared helpers for the Classy client tests: a fake clock and canned Classy answers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import respx

from app.classy import ClassyClient, RateLimiter

API = "https://api.classy.org/2.0"
TOKEN_URL = "https://api.classy.org/oauth2/auth"
SECRET = "s3cr3t-client-secret"


class FakeClock:
    """Monotonic + wall clock whose ``sleep`` advances time instead of waiting."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._wakeups: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Virtual sleep: concurrent sleepers wake in order of their wake-up time."""
        self.sleeps.append(seconds)
        wake = self.now + max(seconds, 0.0)
        self._wakeups.append(wake)
        await asyncio.sleep(0)
        while wake > min(self._wakeups):
            await asyncio.sleep(0)
        self._wakeups.remove(wake)
        self.now = max(self.now, wake)

    def utcnow(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


def token_json(access_token: str = "tok-1", expires_in: int = 3600, **extra: Any) -> dict[str, Any]:
    return {"access_token": access_token, "expires_in": expires_in, "token_type": "bearer", **extra}


def page_json(
    current: int, last: int, data: list[dict[str, Any]], *, next_url: str | bool | None = True, total: int = 0
) -> dict[str, Any]:
    base = f"{API}/organizations/82364/supporters"
    if next_url is True:
        next_url = f"{base}?page={current + 1}" if current < last else None
    return {
        "current_page": current,
        "last_page": last,
        "per_page": 100,
        "total": total or len(data),
        "from": 1 if data else None,
        "to": len(data) if data else None,
        "path": base,
        "first_page_url": f"{base}?page=1",
        "last_page_url": f"{base}?page={last}",
        "next_page_url": next_url,
        "prev_page_url": None,
        "links": [],
        "data": data,
    }


def fast_limiter() -> RateLimiter:
    return RateLimiter(requests_per_minute=1_000_000)


def make_client(**overrides: Any) -> ClassyClient:
    options: dict[str, Any] = {
        "client_id": "client-abc",
        "client_secret": SECRET,
        "limiter": fast_limiter(),
        "backoff_base": 0.001,
        "backoff_cap": 0.005,
    }
    options.update(overrides)
    return ClassyClient(**options)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def classy() -> Iterator[respx.MockRouter]:
    """respx router for Classy; any unmocked call fails the test."""
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router
