"""Control-API mutations bump updated_at; the offset-page hazard is real."""

from __future__ import annotations

import time

import httpx
import pytest

from sandbox.server import SandboxHandle
from sandbox.timefmt import parse_filter_ts

pytestmark = pytest.mark.timeout(60)
SYNC_SORT = "updated_at:asc,id:asc"


async def test_update_bumps_updated_at_and_moves_to_end(
    fresh: SandboxHandle, fresh_api: httpx.AsyncClient
) -> None:
    org = fresh.organization_ids[0]
    path = f"/organizations/{org}/supporters"
    first = (
        await fresh_api.get(path, params={"sort": SYNC_SORT, "filter": "updated_at>=2000-01-01"})
    ).json()["data"][0]
    before = int(time.time())
    async with httpx.AsyncClient(timeout=10) as c:
        r = await c.post(
            f"{fresh.control_url}/organizations/{org}/supporters/{first['id']}", json={"city": "Duluth"}
        )
        bad = await c.post(
            f"{fresh.control_url}/organizations/{org}/supporters/{first['id']}", json={"shoe_size": 9}
        )
    assert r.status_code == 200 and bad.status_code == 400
    updated = r.json()
    assert updated["city"] == "Duluth" and parse_filter_ts(updated["updated_at"]) >= before
    body = (
        await fresh_api.get(
            path, params={"sort": SYNC_SORT, "per_page": 1, "filter": f"updated_at>={updated['updated_at']}"}
        )
    ).json()
    assert body["data"][0]["id"] == first["id"]


async def test_create_refund_delete_churn(fresh: SandboxHandle, fresh_api: httpx.AsyncClient) -> None:
    org = fresh.organization_ids[0]
    ctl = f"{fresh.control_url}/organizations/{org}"
    before = int(time.time())
    async with httpx.AsyncClient(timeout=10) as c:
        created = (await c.post(f"{ctl}/supporters", json={"first_name": "Zed"})).json()
        txns = (await c.get(f"{ctl}/transactions/all")).json()
        victim = next(t for t in txns if t["status"] == "success")
        refunded = (await c.post(f"{ctl}/transactions/{victim['id']}/refund")).json()
        deleted = (await c.delete(f"{ctl}/supporters/{created['id']}")).json()
        churn = (
            await c.post(f"{ctl}/churn", json={"resource": "transactions", "updates": 5, "inserts": 3})
        ).json()
        explicit = await c.post(
            f"{ctl}/supporters/{txns[0]['supporter_id'] or created['id']}",
            json={"updated_at": "2021-01-01T00:00:00Z"},
        )
    assert created["first_name"] == "Zed" and created["id"] > 0
    assert parse_filter_ts(created["created_at"]) >= before and created["created_at"] == created["updated_at"]
    assert refunded["status"] == "refunded" and refunded["refunded_at"] == refunded["updated_at"]
    assert parse_filter_ts(refunded["updated_at"]) >= before
    assert deleted == {"deleted": True}
    assert len(churn["updated"]) == 5 and len(churn["inserted"]) == 3
    if explicit.status_code == 200:
        assert explicit.json()["updated_at"] == "2021-01-01T00:00:00+0000"
    new = (
        await fresh_api.get(
            f"/organizations/{org}/transactions",
            params={"filter": f"id>={min(churn['inserted'])}", "with": "items"},
        )
    ).json()
    assert {r["id"] for r in new["data"]} >= set(churn["inserted"])
    assert all(r["items"] for r in new["data"])


async def test_offset_pages_shift_when_records_move(
    fresh: SandboxHandle, fresh_api: httpx.AsyncClient
) -> None:
    """The hazard a sync must survive: an update between page reads makes a naive walk skip a record."""
    org = fresh.organization_ids[0]
    path = f"/organizations/{org}/supporters"
    params = {"sort": SYNC_SORT, "filter": "updated_at>=2000-01-01", "per_page": 10}
    page1 = (await fresh_api.get(path, params={**params, "page": 1})).json()["data"]
    async with httpx.AsyncClient(timeout=10) as c:
        await c.post(
            f"{fresh.control_url}/organizations/{org}/supporters/{page1[0]['id']}", json={"opt_in": True}
        )
    page2 = (await fresh_api.get(path, params={**params, "page": 2})).json()["data"]
    truth = (await fresh_api.get(path, params={**params, "per_page": 21})).json()["data"]
    seen = {r["id"] for r in page1 + page2}
    skipped = [r["id"] for r in truth[:20] if r["id"] not in seen]
    assert len(skipped) == 1  # the record that slid from page 2 onto page 1


async def test_churn_interval_background(tmp_path: object) -> None:
    from sandbox.server import run_sandbox
    from tests.sandbox.conftest import small_config

    with run_sandbox(small_config(churn_interval=0.2, churn_updates=3, churn_inserts=1)) as h:
        assert h.store is not None
        before = len(h.store.collection(h.organization_ids[0], "supporters") or [])
        time.sleep(0.8)
        after = len(h.store.collection(h.organization_ids[0], "supporters") or [])
    assert after > before
