"""Per-key attempt throttling (token bucket), for actions that cost a call to Classy.

Every Save or Reconnect exchanges the submitted credentials at Classy's token endpoint. Without a
throttle one admin (or a stolen admin token) could make the service hammer that endpoint with rejected
credentials, and Classy may then slow down or block the whole app. The bucket is per account and per
process; it keeps at most `max_keys` accounts (the least recently seen are forgotten). The defaults (a
burst of 10, then one every 5 s) leave room for an admin, or an integrator's script, that corrects a
few typos in a row: API.md promises 422 for rejected credentials, and a 429 there must stay rare.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable


class AttemptThrottle:
    """`capacity` attempts at once, refilled at one per `refill_seconds`; `try_acquire` says when next."""

    def __init__(
        self,
        capacity: int = 10,
        refill_seconds: float = 5.0,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = capacity
        self.refill_seconds = refill_seconds
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def __len__(self) -> int:
        return len(self._buckets)

    def try_acquire(self, key: str) -> int | None:
        """Take one attempt for `key`: None when allowed, else whole seconds until the next one is."""
        now = self._clock()
        tokens, at = self._buckets.get(key, (float(self.capacity), now))
        tokens = min(float(self.capacity), tokens + (now - at) / self.refill_seconds)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            self._buckets.move_to_end(key)
            return max(1, math.ceil((1.0 - tokens) * self.refill_seconds))
        self._buckets[key] = (tokens - 1.0, now)
        self._buckets.move_to_end(key)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return None
