"""How long to wait before retrying: full-jitter backoff and Classy's rate-limit hints.

Full jitter (a uniform draw between 0 and the capped exponential) keeps the streams of one app
from retrying in lockstep after a shared failure. When Classy says how long to wait (``Retry-After``
seconds, ``X-RateLimit-Reset`` as a Unix time, or ``retry_after`` in a 429 body) that hint wins.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

# A hint longer than this is treated as this long: a misconfigured header must not park a sync
# for hours. The retry loop still gives up after its attempts if Classy keeps refusing.
MAX_HINT_SECONDS = 300.0
# Values below this are not plausible Unix times, so a reset header that small is read as seconds.
_UNIX_TIME_FLOOR = 1_000_000_000


def full_jitter(attempt: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Delay before retry number ``attempt`` (1-based): uniform in [0, min(cap, base * 2**(attempt-1))]."""
    ceiling = min(cap, base * (2 ** max(attempt - 1, 0)))
    return (rng or random).uniform(0.0, ceiling)


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    # "inf", "NaN" or "1e400" is no hint at all: the retry falls back to its own backoff.
    return value if math.isfinite(value) else None


def retry_after_seconds(
    headers: Mapping[str, str], body: object = None, *, now: float | None = None
) -> float | None:
    """Seconds Classy asked us to wait, from headers or a 429 body; None when it gave no hint."""
    lowered = _lower(headers)
    wall = time.time() if now is None else now
    hint: float | None = None
    retry_after = lowered.get("retry-after")
    if retry_after is not None:
        hint = _number(retry_after)
        if hint is None:
            try:
                hint = parsedate_to_datetime(retry_after).timestamp() - wall
            except (TypeError, ValueError):
                hint = None
    if hint is None:
        reset = _number(lowered.get("x-ratelimit-reset"))
        if reset is not None:
            hint = reset - wall if reset >= _UNIX_TIME_FLOOR else reset
    if hint is None and isinstance(body, dict):
        value = body.get("retry_after")
        if isinstance(value, int | float) and not isinstance(value, bool):
            hint = float(value)
    if hint is None:
        return None
    return min(max(hint, 0.0), MAX_HINT_SECONDS)
