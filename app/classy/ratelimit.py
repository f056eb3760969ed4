"""Pace requests so that one Classy app never exceeds its per-minute limit.

Classy allows 1800 requests per minute per app by default (docs/classy-api.md §5) and every stream of a
connection shares that budget, so one ``RateLimiter`` per ``client_id`` (``limiter_for``) paces all
of them. Requests are spread evenly at exactly the limit's pace (a generic cell-rate scheduler) with a
small burst, and a cap on our own requests in any 60-second window (the limit less the burst) keeps
headroom against the server's count: a fixed window (Classy's, Laravel-style) or a sliding one never
sees more than the limit, even when some requests reach it a little late. A read shorter than a minute
therefore takes pages / rate (less the burst), and a long one settles at the cap, a few requests a
minute below the limit.

Classy's headers adjust the pace:

* ``X-RateLimit-Limit`` lower than ours: the server's value wins.
* ``X-RateLimit-Remaining``: the requests left are spread over the rest of the server's window.
  The window's start is estimated from our first observation and from the jump in ``Remaining``
  when the server resets its count; both estimates are never earlier than the real start, so the
  spread errs on the slow side. Until a reset has been seen (a sliding-window server never shows
  one) we also accept "what is left plus what we used ourselves this minute" as our share, so
  that our own steady use of the full budget is not mistaken for someone else's.
* 429/503 with ``Retry-After`` or ``X-RateLimit-Reset``: every caller pauses until then.

The limiter keeps no asyncio primitives, so it is safe to share across event loops: the API's checks
and the syncs (on the scheduler's own thread) draw from one limiter per app, and a thread lock keeps
two callers from taking the same slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Mapping

from .backoff import retry_after_seconds

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

WINDOW_SECONDS = 60.0
_PAUSE_WHEN_EXHAUSTED = 1.0  # no reset hint and nothing left: wait a little, the 429 path does the rest


class RateLimiter:
    """An async pacing limiter: ``await acquire()`` before a request, ``observe()`` after it."""

    def __init__(
        self,
        requests_per_minute: int = 1800,
        *,
        burst: int = 4,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if requests_per_minute < 1:
            raise ValueError("requests_per_minute must be at least 1")
        self.requests_per_minute = requests_per_minute
        self.burst = max(1, min(burst, requests_per_minute // 2))
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._tat = float("-inf")  # theoretical arrival time of the next request
        self._pause_until = float("-inf")
        self._server_limit: int | None = None
        self._slow_interval = 0.0  # from X-RateLimit-Remaining; 0 while the budget is ample
        self._window_start: float | None = None  # estimated start of the server's current window
        self._reset_seen = False  # the server counts in fixed windows (we saw Remaining jump back)
        self._last_remaining: int | None = None
        # Our requests' send times (reserved slots, some a little in the future) within the last window.
        self._slots: deque[float] = deque()
        self.waited_seconds = 0.0
        self._reserving = threading.Lock()

    @property
    def limit(self) -> int:
        """Requests per minute: ours, or the server's when it says it allows fewer."""
        if self._server_limit is not None:
            return min(self.requests_per_minute, self._server_limit)
        return self.requests_per_minute

    @property
    def steady_interval(self) -> float:
        """Seconds between requests at full speed: exactly the limit's pace."""
        return WINDOW_SECONDS / self.limit

    @property
    def minute_cap(self) -> int:
        """Our requests in any 60 s window at most: the limit less the burst, headroom for late arrivals.

        Pacing alone at the limit's pace plus a burst could put ``limit + burst - 1`` requests in one
        minute, and a fixed-window server counts arrivals, not sends: a request sent a full minute
        after another may arrive less than a minute after it. Slowing the pace for that headroom (as
        this limiter once did) cost every read, even the ones shorter than a minute; the cap costs
        only reads long enough to fill a minute.
        """
        return max(self.limit - self.burst, 1)

    @property
    def interval(self) -> float:
        """Current seconds between requests: steady, or slower while others use the budget."""
        return max(self.steady_interval, self._slow_interval)

    @property
    def pacing(self) -> bool:
        """Whether the next request would wait for its slot: the limit, not the callers, sets the pace.

        True while requests keep coming at the limit's rate (the burst is used up); false when callers
        ask more slowly than that, and for a limit so high that no caller ever waits.
        """
        return self._tat - (self.burst - 1) * self.steady_interval > self._clock()

    @property
    def paused_for(self) -> float:
        """Seconds until a pause (after a 429/503) ends; 0 when not paused."""
        return max(0.0, self._pause_until - self._clock())

    async def acquire(self) -> None:
        """Wait for this caller's turn; reservations are taken in call order."""
        while True:
            with self._reserving:
                now = self._clock()
                tat = max(self._tat, now, self._pause_until)
                allowed_at = max(tat - (self.burst - 1) * self.steady_interval, now, self._pause_until)
                allowed_at = self._under_cap(allowed_at, now)
                self._tat = max(tat, allowed_at) + self.interval
                self._slots.append(allowed_at)
            delay = allowed_at - now
            if delay > 0:
                self.waited_seconds += delay
                _wait_stats.record(delay)
                await self._sleep(delay)
            # A pause that began while we slept voids our slot: take a new one after it.
            if self._clock() >= self._pause_until:
                return
            with self._reserving, contextlib.suppress(ValueError):  # pruned already: nothing to give back
                self._slots.remove(allowed_at)

    def _under_cap(self, at: float, now: float) -> float:
        """``at``, or the first moment after it that keeps our requests within ``minute_cap`` a window.

        Slots are reserved in time order, so the window ending at ``at`` holds every slot kept; if
        they are already ``minute_cap``, the oldest of the last ``minute_cap`` must leave it first.
        """
        self._prune(now)
        cap = self.minute_cap
        if len(self._slots) >= cap:
            at = max(at, self._slots[-cap] + WINDOW_SECONDS)
        return at

    def pause(self, seconds: float) -> None:
        """Hold every caller for ``seconds``; afterwards requests resume paced, without a burst."""
        until = self._clock() + max(seconds, 0.0)
        if until <= self._pause_until:
            return
        self._pause_until = until
        self._tat = max(self._tat, until + (self.burst - 1) * self.steady_interval)

    def observe(self, headers: Mapping[str, str], status_code: int | None = None) -> None:
        """Learn from a response's rate-limit headers (call it for every response)."""
        lowered = {k.lower(): v for k, v in headers.items()}
        if status_code in (429, 503):
            hint = retry_after_seconds(headers, now=self._wall_clock())
            if hint is not None:
                self.pause(hint)
        limit = _int(lowered.get("x-ratelimit-limit"))
        remaining = _int(lowered.get("x-ratelimit-remaining"))
        if limit is not None and limit > 0:
            self._server_limit = limit
        if remaining is None:
            return
        if remaining <= 0:
            # Exhausted: the pause until the reset is the whole answer. Spreading "0 left" over the
            # rest of the window would instead space every later request by up to a minute.
            hint = retry_after_seconds(headers, now=self._wall_clock())
            self.pause(hint if hint is not None else _PAUSE_WHEN_EXHAUSTED)
            self._last_remaining = remaining
            return
        with self._reserving:  # the other thread may be reserving a slot in the deque _spread reads
            self._slow_interval = self._spread(remaining, self._server_limit or self.requests_per_minute)

    def _spread(self, remaining: int, limit: int) -> float:
        """Seconds between requests that make ``remaining`` last until the server's window ends."""
        now = self._clock()
        self._prune(now)
        jump = max(limit // 20, 8)
        if self._last_remaining is not None and remaining > self._last_remaining + jump:
            self._window_start, self._reset_seen = now, True
        elif self._window_start is None:
            self._window_start = now
        elif now >= self._window_start + WINDOW_SECONDS:
            elapsed = now - self._window_start
            self._window_start += WINDOW_SECONDS * (elapsed // WINDOW_SECONDS)
        self._last_remaining = remaining
        time_left = self._window_start + WINDOW_SECONDS - now
        spread = time_left / max(remaining, 1)
        if self._reset_seen:
            return spread
        # Remaining plus our own use this minute is the share nobody else takes.
        share = max(remaining, 0) + self._sent_by(now)
        return 0.0 if share >= limit else min(spread, WINDOW_SECONDS / max(share, 1))

    def _sent_by(self, now: float) -> int:
        """Our requests in the last window up to ``now`` (slots reserved for later not counted)."""
        later = 0
        for slot in reversed(self._slots):
            if slot <= now:
                break
            later += 1
        return len(self._slots) - later

    def _prune(self, now: float) -> None:
        cutoff = now - WINDOW_SECONDS
        while self._slots and self._slots[0] <= cutoff:
            self._slots.popleft()


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(float(text.strip()))
    except (ValueError, OverflowError):  # not a number, or "inf"/"1e400": no information
        return None


class WaitStats:
    """Process-wide totals of pacing waits, for the metrics endpoint (this package knows no Prometheus)."""

    def __init__(self) -> None:
        self.waits = 0
        self.seconds = 0.0

    def record(self, delay: float) -> None:
        self.waits += 1
        self.seconds += delay


_wait_stats = WaitStats()


def wait_stats() -> WaitStats:
    return _wait_stats


class LimiterRegistry:
    """One limiter per ``client_id``, kept only while it is used, so the registry stays bounded.

    A limiter lives as long as a client holds it (weak references) and, after that, among the
    ``keep_recent`` most recently requested ones, so a client rebuilt a moment later (the next run,
    a retried Save) still shares the pace and any pause of the previous one. A flood of made-up
    ``client_id`` values (Saves with random credentials) therefore costs at most ``keep_recent``
    limiters beyond those in use.
    """

    def __init__(self, keep_recent: int = 256) -> None:
        self.keep_recent = keep_recent
        self._live: weakref.WeakValueDictionary[str, RateLimiter] = weakref.WeakValueDictionary()
        self._recent: OrderedDict[str, RateLimiter] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._live)

    def peek(self, client_id: str) -> RateLimiter | None:
        """The limiter of ``client_id`` if one is kept, without creating or refreshing it."""
        return self._live.get(client_id)

    def get(self, client_id: str, rpm: int) -> RateLimiter:
        with self._lock:
            limiter = self._live.get(client_id)
            if limiter is None:
                limiter = RateLimiter(rpm)
                self._live[client_id] = limiter
            elif limiter.requests_per_minute != rpm:
                limiter.requests_per_minute = rpm
                limiter.burst = max(1, min(limiter.burst, rpm // 2))
            self._recent[client_id] = limiter
            self._recent.move_to_end(client_id)
            while len(self._recent) > self.keep_recent:
                self._recent.popitem(last=False)
            return limiter


_registry = LimiterRegistry()


def limiter_registry() -> LimiterRegistry:
    return _registry


def limiter_for(client_id: str, rpm: int = 1800) -> RateLimiter:
    """The limiter shared by every stream of one Classy app; created on first use.

    Classy counts per app, so all clients built with the same ``client_id`` in this process
    must draw from one budget. A later call with a different ``rpm`` (the configured rate changed)
    gets the existing limiter, set to the new rate. Unused limiters are evicted (``LimiterRegistry``).
    """
    return _registry.get(client_id, rpm)
