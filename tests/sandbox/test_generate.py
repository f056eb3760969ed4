"""Deterministic, realistic generation."""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest

from sandbox.generate import Sizes
from sandbox.store import SandboxConfig, SandboxStore
from tests.sandbox.conftest import SMALL

pytestmark = pytest.mark.timeout(120)
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0000$")
RESOURCES = ("supporters", "transactions", "registrations", "recurring-donation-plans", "campaigns")


def build(seed: int) -> SandboxStore:
    return SandboxStore(SandboxConfig(seed=seed, organizations=2, sizes=SMALL))


def test_same_seed_same_data() -> None:
    a, b, c = build(3), build(3), build(4)
    for org in a.orgs:
        for res in RESOURCES:
            assert a.dump(org, res) == b.dump(org, res)
    first = next(iter(a.orgs))
    assert a.dump(first, "supporters") != c.dump(first, "supporters")


def test_realistic_shapes_and_hazards() -> None:
    store = build(5)
    org = next(iter(store.orgs))
    sups = store.dump(org, "supporters")
    txns = store.dump(org, "transactions")
    regs = store.dump(org, "registrations")
    by_id = {s["id"]: s for s in sups}
    stamps = Counter(s["updated_at"] for s in sups)
    assert stamps.most_common(1)[0][1] >= len(sups) // 6  # a bulk import stamped one second
    assert len({s["email_address"] for s in sups}) == len(sups)
    assert all(re.fullmatch(r"\d{5}", s["postal_code"]) for s in sups)
    linked = [t for t in txns if t["supporter_id"] is not None]
    assert linked and all(
        t["member_email_address"] == by_id[t["supporter_id"]]["email_address"] for t in linked
    )
    assert any(t["supporter_id"] is None for t in txns)
    statuses = Counter(t["status"] for t in txns)
    assert statuses["success"] > statuses["refunded"] > 0 and statuses["failed"] > 0
    assert all(t["refunded_at"] for t in txns if t["status"] == "refunded")
    assert any(t["updated_at"] is None for t in txns)
    assert all(TS_RE.match(t["created_at"]) for t in txns)
    assert all(round(t["total_gross_amount"], 2) == t["total_gross_amount"] for t in txns)
    recurring = [t for t in txns if t["recurring_donation_plan_id"]]
    assert recurring and all(t["frequency"] != "one-time" for t in recurring)
    assert all(t["items"] for t in txns)
    minimal = [
        r
        for r in regs
        if r["supporter_id"] is None
        and r["transaction_id"] is None
        and r["phone"] is None
        and r["address1"] is None
    ]
    assert minimal and all(r["first_name"] and r["email"] and r["postal_code"] for r in minimal)
    emails = {s["email_address"] for s in sups}
    assert any(r["email"] in emails and r["supporter_id"] for r in regs)


@pytest.mark.slow
def test_large_generation_is_fast() -> None:
    start = time.monotonic()
    store = SandboxStore(SandboxConfig(organizations=1, sizes=Sizes(100_000, 200_000, 20_000, 20, 5000)))
    assert time.monotonic() - start < 90  # catches a quadratic turn, not a busy machine
    org = next(iter(store.orgs))
    assert len(store.collection(org, "transactions") or []) == 200_000


@pytest.mark.timeout(90)
def test_subprocess_server_starts_and_stops() -> None:
    import httpx

    from sandbox.server import run_sandbox_subprocess

    with run_sandbox_subprocess(
        "--organizations",
        "1",
        "--supporters",
        "50",
        "--transactions",
        "100",
        "--client-id",
        "sub-id",
        "--client-secret",
        "sub-secret",
    ) as h:
        r = httpx.post(
            h.token_url,
            data={"grant_type": "client_credentials", "client_id": "sub-id", "client_secret": "sub-secret"},
            timeout=10,
        )
        assert r.status_code == 200 and h.client_id == "sub-id" and h.store is None
        pid = h.extra["pid"]
    import os

    with pytest.raises(ProcessLookupError):
        os.kill(int(str(pid)), 0)
