"""Rate limiters and credential-attempt buckets stay bounded whatever clients send."""

from __future__ import annotations

import gc
import secrets

from app.classy.ratelimit import LimiterRegistry, limiter_for, limiter_registry
from app.security.throttle import AttemptThrottle


def test_a_flood_of_random_client_ids_leaves_the_registry_bounded() -> None:
    registry = LimiterRegistry(keep_recent=64)
    held = registry.get("real-app", 1800)  # a running sync's client holds its limiter
    for _ in range(20_000):
        registry.get(secrets.token_hex(8), 1800)  # Saves with made-up client ids, then dropped
    gc.collect()
    assert len(registry) <= 64 + 1
    assert registry.get("real-app", 1800) is held, "a limiter in use is never replaced"


def test_a_recently_used_limiter_survives_its_client() -> None:
    """The next run (a new client a moment later) shares the pace and pauses of the previous one."""
    registry = LimiterRegistry(keep_recent=8)
    first = registry.get("app", 1800)
    first.pause(30)
    first_id = id(first)
    del first
    gc.collect()
    again = registry.get("app", 1800)
    assert id(again) == first_id and again.paused_for > 0


def test_the_process_registry_is_bounded_too() -> None:
    for _ in range(5_000):
        limiter_for(secrets.token_hex(8))
    gc.collect()
    assert len(limiter_registry()) <= limiter_registry().keep_recent + 16


def test_attempts_are_limited_per_key_and_refill() -> None:
    now = [0.0]
    throttle = AttemptThrottle(capacity=3, refill_seconds=10, clock=lambda: now[0])
    assert [throttle.try_acquire("acme") for _ in range(3)] == [None, None, None]
    assert throttle.try_acquire("acme") == 10
    assert throttle.try_acquire("globex") is None, "another account has its own bucket"
    now[0] = 4.0
    assert throttle.try_acquire("acme") == 6
    now[0] = 10.0
    assert throttle.try_acquire("acme") is None


def test_the_attempt_buckets_are_bounded() -> None:
    throttle = AttemptThrottle(max_keys=100)
    for _ in range(5_000):
        throttle.try_acquire(secrets.token_hex(8))
    assert len(throttle) == 100
