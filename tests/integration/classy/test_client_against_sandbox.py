"""The Classy client over real loopback HTTP against the sandbox: faults and rate limits."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from app.classy import ClassyClient
from app.classy.ratelimit import RateLimiter
from sandbox.generate import Sizes
from sandbox.server import SandboxHandle, run_sandbox
from sandbox.store import SandboxConfig


@pytest.fixture
def sandbox() -> Iterator[SandboxHandle]:
    sizes = Sizes(supporters=2500, transactions=300, registrations=50, campaigns=2, plans=5)
    with run_sandbox(SandboxConfig(seed=21, organizations=1, sizes=sizes, rate_limit=0)) as handle:
        yield handle


def client(sandbox: SandboxHandle, limiter: RateLimiter, **kwargs: object) -> ClassyClient:
    return ClassyClient(
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        api_url=sandbox.api_url,
        token_url=sandbox.token_url,
        limiter=limiter,
        backoff_base=0.05,
        backoff_cap=0.5,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_reading_every_record_with_ten_percent_faults_returns_exactly_the_sandbox(
    sandbox: SandboxHandle,
) -> None:
    org = sandbox.organization_ids[0]
    control = httpx.Client(base_url=sandbox.control_url)
    for kind in ("429", "503", "500", "drop", "reset"):
        rule = {"kind": kind, "rate": 0.02, "retry_after": 1, "path_prefix": "/2.0/"}
        control.post("/faults", json=rule).raise_for_status()
    seen: list[int] = []
    async with client(sandbox, RateLimiter(100_000)) as classy:
        async for page in classy.iter_pages(f"/organizations/{org}/supporters", per_page=100, sort="id:asc"):
            seen.extend(record["id"] for record in page.data)
        retries = classy.retry_count
    truth = [row["id"] for row in sandbox.store.dump(org, "supporters")]  # type: ignore[union-attr]
    assert seen == truth
    assert retries > 0, "faults were injected, so some requests must have been retried"
    assert control.get("/requests").json()["faults_injected"] > 0


async def test_rate_limit_is_never_exceeded_and_the_read_takes_close_to_the_minimum(
    sandbox: SandboxHandle,
) -> None:
    org = sandbox.organization_ids[0]
    rpm = 600  # 10 requests/second; 25 pages need at least ~2.5 s
    control = httpx.Client(base_url=sandbox.control_url)
    control.post("/rate-limit", json={"requests_per_minute": rpm}).raise_for_status()
    control.delete("/requests")
    started = time.monotonic()
    pages = 0
    async with client(sandbox, RateLimiter(rpm)) as classy:
        async for _ in classy.iter_pages(f"/organizations/{org}/supporters", per_page=100, sort="id:asc"):
            pages += 1
    elapsed = time.monotonic() - started
    log = control.get("/requests", params={"limit": 1000}).json()
    assert pages == 25
    assert log["rate_limit_rejections"] == 0 and log["rate_limited"] == 0
    # Never above the rate on any time scale: any one-second span holds at most rpm/60 plus the burst.
    times = sorted(r["time"] for r in log["requests"] if r["path"].startswith("/2.0/"))
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= rpm / 60 + 4, f"{busiest} requests in one second"
    minimum = (pages - 4) * 60 / rpm  # the limiter allows a burst of 4 at the start
    # Close to the minimum the rate allows (a loaded CI machine gets some slack, never a speed-up).
    assert minimum * 0.9 <= elapsed <= minimum * 1.5 + 1.0, (
        f"{elapsed:.2f} s for a minimum of {minimum:.2f} s"
    )
