"""Rate limiting, fault injection and the request log.

Rate limit (per app, Laravel ``ThrottleRequests`` style): a fixed 60 s window that starts at the app's
first request; over the limit the request gets 429 ``{"message": "Too Many Attempts.", "retry_after": N}``
with ``Retry-After: N`` and ``X-RateLimit-Reset`` (Unix time). 429s do not count against the window.
``limit == 0`` disables enforcement (headers then advertise ``UNLIMITED``).
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any

UNLIMITED = 1_000_000
WINDOW = 60.0
FAULT_KINDS = ("429", "503", "500", "404", "drop", "reset", "latency")


@dataclass
class RateState:
    limit: int
    remaining: int
    reset_at: int | None = None
    retry_after: int | None = None

    @property
    def limited(self) -> bool:
        return self.retry_after is not None


class RateLimiter:
    """Fixed 60 s windows per key (an app's client_id)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.windows: dict[str, tuple[float, int]] = {}
        self.rejected = 0

    def configure(self, limit: int) -> None:
        self.limit = limit
        self.windows.clear()

    def _window(self, key: str, now: float) -> tuple[float, int]:
        start, count = self.windows.get(key, (now, 0))
        if now - start >= WINDOW:
            start, count = now, 0
        return start, count

    def hit(self, key: str) -> RateState:
        """Count one request; the state says whether it is over the limit."""
        now = time.time()
        start, count = self._window(key, now)
        limit = self.limit or UNLIMITED
        if self.limit and count >= self.limit:
            self.rejected += 1
            retry = max(1, math.ceil(start + WINDOW - now))
            return RateState(limit, 0, int(now) + retry, retry)
        self.windows[key] = (start, count + 1)
        return RateState(limit, max(0, limit - count - 1))

    def peek(self, key: str | None) -> RateState:
        limit = self.limit or UNLIMITED
        if key is None:
            return RateState(limit, limit)
        _, count = self._window(key, time.time())
        return RateState(limit, max(0, limit - count))


@dataclass
class FaultRule:
    """One fault: ``kind`` with probability ``rate`` and/or on the next ``count`` matching requests."""

    kind: str
    rate: float | None = None
    count: int | None = None
    latency_ms: int = 0
    retry_after: int = 1
    path_prefix: str = "/2.0/"
    fired: int = 0

    def public(self) -> dict[str, Any]:
        return asdict(self)


class Faults:
    """Active fault rules, drawn with a seeded RNG."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"faults:{seed}")
        self.rules: list[FaultRule] = []
        self.injected = 0

    def add(self, rule: FaultRule) -> None:
        if rule.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {rule.kind!r}; use one of {FAULT_KINDS}")
        if rule.rate is None and rule.count is None:
            raise ValueError("give a rate (probability) and/or a count (next N requests)")
        self.rules.append(rule)

    def pick(self, path: str) -> tuple[float, FaultRule | None]:
        """(latency seconds to add, the error fault to inject or None) for one request."""
        latency = 0.0
        chosen: FaultRule | None = None
        for rule in list(self.rules):
            if not path.startswith(rule.path_prefix) or (rule.kind != "latency" and chosen is not None):
                continue
            if rule.rate is not None and self.rng.random() >= rule.rate:
                continue
            rule.fired += 1
            if rule.count is not None:
                rule.count -= 1
                if rule.count <= 0:
                    self.rules.remove(rule)
            if rule.kind == "latency":
                latency += rule.latency_ms / 1000
            else:
                chosen = rule
                self.injected += 1
        return latency, chosen


class RequestLog:
    """The last requests served (excluding ``/_sandbox``), with counters."""

    def __init__(self, maxlen: int = 100_000) -> None:
        self.entries: deque[dict[str, Any]] = deque(maxlen=maxlen)
        self.by_status: Counter[str] = Counter()

    def add(self, entry: dict[str, Any]) -> None:
        self.entries.append(entry)
        self.by_status[str(entry["status"])] += 1

    def clear(self) -> None:
        self.entries.clear()
        self.by_status.clear()
