"""RateLimiter: even pacing, a small burst, slowing down on low remaining, pausing on 429."""

from __future__ import annotations

import asyncio
import bisect
import time

from app.classy import RateLimiter, limiter_for
from app.classy.backoff import full_jitter, retry_after_seconds

from .conftest import FakeClock


def fake(clock: FakeClock, rpm: int, burst: int = 1) -> RateLimiter:
    return RateLimiter(rpm, burst=burst, clock=clock, wall_clock=clock, sleep=clock.sleep)


async def test_paces_evenly(clock: FakeClock) -> None:
    limiter = fake(clock, 600)  # 60 / 600 = 0.1 s apart
    start = clock.now
    for _ in range(21):
        await limiter.acquire()
    assert abs((clock.now - start) - 2.0) < 1e-4


async def test_paces_in_real_time() -> None:
    limiter = RateLimiter(6001, burst=1)  # 10 ms apart
    start = time.monotonic()
    for _ in range(11):
        await limiter.acquire()
    assert 0.09 <= time.monotonic() - start <= 0.3


async def test_burst_then_pace(clock: FakeClock) -> None:
    limiter = fake(clock, 600, burst=4)  # steady interval 0.1 s
    times = []
    for _ in range(7):
        await limiter.acquire()
        times.append(round(clock.now - 1_700_000_000.0, 3))
    assert times == [0.0, 0.0, 0.0, 0.0, 0.1, 0.2, 0.3]


async def test_never_more_than_rpm_in_any_minute(clock: FakeClock) -> None:
    limiter = fake(clock, 120, burst=4)
    sent = []
    for _ in range(400):
        await limiter.acquire()
        sent.append(clock.now)
    for i, t in enumerate(sent):
        in_window = sum(1 for s in sent[i:] if s < t + 60.0)
        assert in_window <= 120 - 4  # the burst's worth is kept as headroom for late arrivals
    # ... and a long read runs at that cap: no slower than an even pace of 116 a minute after the burst.
    assert sent[-1] - sent[0] <= (400 - 4) * 60 / 116


async def test_a_read_shorter_than_a_minute_goes_at_exactly_the_rate(clock: FakeClock) -> None:
    # The headroom under the limit costs nothing until a minute is full: 665 requests at 1800/min
    # (the bench's rate-limited import) take (665 - burst) / 30 s, not 665 / 29.93.
    limiter = fake(clock, 1800, burst=4)
    start = clock.now
    for _ in range(665):
        await limiter.acquire()
    assert abs((clock.now - start) - (665 - 4) / 30) < 1e-3


async def test_concurrent_callers_fill_a_minute_to_the_cap_and_no_further(clock: FakeClock) -> None:
    limiter = fake(clock, 600, burst=4)
    sent: list[float] = []

    async def stream() -> None:
        for _ in range(200):
            await limiter.acquire()
            sent.append(clock.now)
            await clock.sleep(0.05)

    await asyncio.gather(*(stream() for _ in range(4)))
    sent.sort()
    busiest = max(bisect.bisect_left(sent, t + 60.0) - i for i, t in enumerate(sent))
    assert busiest == 600 - 4


async def test_concurrent_callers_are_spaced(clock: FakeClock) -> None:
    limiter = fake(clock, 600)
    done: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        done.append(clock.now)

    await asyncio.gather(*(one() for _ in range(5)))
    gaps = [round(b - a, 3) for a, b in zip(sorted(done), sorted(done)[1:], strict=False)]
    assert gaps == [0.1, 0.1, 0.1, 0.1]


async def test_slows_down_when_remaining_is_low(clock: FakeClock) -> None:
    limiter = fake(clock, 1800)
    await limiter.acquire()
    limiter.observe({"X-RateLimit-Limit": "1800", "X-RateLimit-Remaining": "5"})
    assert abs(limiter.interval - 10.0) < 1e-9  # 6 per minute left to us: 5 remaining + our 1
    before = clock.now
    await limiter.acquire()
    await limiter.acquire()
    assert clock.now - before >= 10.0
    limiter.observe({"X-RateLimit-Limit": "1800", "X-RateLimit-Remaining": "1790"})
    assert limiter.interval <= 60 / 1790  # back to (nearly) full speed


async def test_own_usage_does_not_slow_down(clock: FakeClock) -> None:
    limiter = fake(clock, 1800)
    for _ in range(100):
        await limiter.acquire()
    limiter.observe({"x-ratelimit-limit": "1800", "x-ratelimit-remaining": "1700"})
    assert limiter.interval == limiter.steady_interval


async def test_adopts_lower_server_limit(clock: FakeClock) -> None:
    limiter = fake(clock, 1800)
    limiter.observe({"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "60"})
    assert abs(limiter.steady_interval - 1.0) < 1e-9
    assert limiter.minute_cap == 59


async def test_429_retry_after_pauses_every_caller(clock: FakeClock) -> None:
    limiter = fake(clock, 1_000_000)
    start = clock.now
    limiter.observe({"Retry-After": "3"}, 429)
    done: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        done.append(clock.now - start)

    await asyncio.gather(*(one() for _ in range(4)))
    assert min(done) >= 3.0


async def test_503_with_reset_timestamp_pauses_until_then(clock: FakeClock) -> None:
    limiter = fake(clock, 1_000_000)
    start = clock.now
    limiter.observe({"X-RateLimit-Reset": str(int(clock.now) + 20)}, 503)
    await limiter.acquire()
    assert clock.now - start >= 20.0


async def test_exhausted_remaining_pauses(clock: FakeClock) -> None:
    limiter = fake(clock, 1800)
    start = clock.now
    limiter.observe(
        {
            "X-RateLimit-Limit": "1800",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(clock.now) + 12),
        }
    )
    await limiter.acquire()
    assert clock.now - start >= 12.0


def test_registry_shares_one_limiter_per_app() -> None:
    assert limiter_for("app-one") is limiter_for("app-one")
    assert limiter_for("app-one") is not limiter_for("app-two")


def test_retry_after_forms() -> None:
    now = 1_700_000_000.0
    assert retry_after_seconds({"Retry-After": "24"}, now=now) == 24.0
    assert retry_after_seconds({"retry-after": "Tue, 14 Nov 2023 22:13:50 GMT"}, now=now) == 30.0
    assert retry_after_seconds({"X-RateLimit-Reset": str(int(now) + 42)}, now=now) == 42.0
    assert retry_after_seconds({}, {"retry_after": 9}, now=now) == 9.0
    assert retry_after_seconds({"Retry-After": "99999"}, now=now) == 300.0
    assert retry_after_seconds({"X-RateLimit-Reset": str(int(now) - 5)}, now=now) == 0.0
    assert retry_after_seconds({}, None, now=now) is None


def test_full_jitter_bounds() -> None:
    for attempt in range(1, 12):
        assert 0.0 <= full_jitter(attempt, base=0.5, cap=30.0) <= min(30.0, 0.5 * 2 ** (attempt - 1))


class FixedWindowServer:
    """Counts like Laravel's throttle: a 60 s window opened by the first request after the last."""

    def __init__(self, clock: FakeClock, limit: int) -> None:
        self.clock, self.limit = clock, limit
        self.window_start = -1e18
        self.count = 0
        self.rejected = 0
        self.sent: list[float] = []

    def hit(self) -> dict[str, str]:
        now = self.clock.now
        if now >= self.window_start + 60:
            self.window_start, self.count = now, 0
        self.count += 1
        self.sent.append(now)
        if self.count > self.limit:
            self.rejected += 1
        remaining = max(self.limit - self.count, 0)
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(remaining)}


async def test_long_read_with_four_streams_never_exceeds_and_keeps_full_speed(clock: FakeClock) -> None:
    limiter = RateLimiter(1800, clock=clock, wall_clock=clock, sleep=clock.sleep)
    server = FixedWindowServer(clock, 1800)
    requests = 4000

    async def stream(n: int) -> None:
        for _ in range(n):
            await limiter.acquire()
            limiter.observe(server.hit())
            await clock.sleep(0.05)  # the response takes a while; other streams go meanwhile

    start = clock.now
    await asyncio.gather(*(stream(requests // 4) for _ in range(4)))
    elapsed = clock.now - start
    assert server.rejected == 0
    sent = server.sent
    sliding_max = max(bisect.bisect_left(sent, t + 60) - i for i, t in enumerate(sent))
    assert sliding_max <= 1800
    ideal = requests / 1800 * 60
    assert elapsed <= ideal * 1.03, (elapsed, ideal)


async def test_pacing_says_whether_the_limit_sets_the_pace(clock: FakeClock) -> None:
    limiter = fake(clock, 600, burst=4)
    assert not limiter.pacing  # idle: the next request goes at once
    await limiter.acquire()
    assert not limiter.pacing  # burst left
    for _ in range(3):
        await limiter.acquire()
    assert limiter.pacing  # burst used up: the next one waits for its slot
    await limiter.acquire()
    assert limiter.pacing
    await clock.sleep(0.5)  # callers asked more slowly than the rate for a while
    assert not limiter.pacing
    unlimited = fake(clock, 1_000_000, burst=4)
    for _ in range(3):
        await unlimited.acquire()
        await clock.sleep(0.001)  # a request's own round trip: far longer than the limit's interval
    assert not unlimited.pacing
