"""Designations, fundraising pages and teams, dedications (`with=dedication`) and every transaction kind."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.generate import Sizes
from sandbox.server import SandboxHandle
from sandbox.store import SandboxConfig, SandboxStore

pytestmark = pytest.mark.timeout(60)


async def _all(api: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        body = (await api.get(path, params={"per_page": 100, "page": page, **params})).json()
        rows += body["data"]
        if body["current_page"] >= body["last_page"]:
            return rows
        page += 1


async def test_lists_follow_the_reference_shapes(shared: SandboxHandle, api: httpx.AsyncClient) -> None:
    org = shared.organization_ids[0]
    designations = await _all(api, f"/organizations/{org}/designations")
    assert designations and sum(d["is_default"] for d in designations) == 1
    assert isinstance(designations[0]["goal"], str)  # a string in Classy (reference 6.2)
    teams = await _all(api, f"/organizations/{org}/fundraising-teams")
    pages = await _all(api, f"/organizations/{org}/fundraising-pages")
    assert teams and pages
    assert {p["fundraising_team_id"] for p in pages} <= {t["id"] for t in teams}
    txns = await _all(api, f"/organizations/{org}/transactions", **{"with": "items,dedication"})
    assert all("dedication" in t and "items" in t for t in txns)
    dedicated = [t for t in txns if t["dedication"] is not None]
    assert dedicated and all(t["dedication"]["transaction_id"] == t["id"] for t in dedicated)
    assert {t["dedication"]["type"] for t in dedicated} == {"honor", "memory"}
    listed = await _all(api, f"/organizations/{org}/dedications")
    assert {d["id"] for d in listed} == {t["dedication"]["id"] for t in dedicated}
    plain = await _all(api, f"/organizations/{org}/transactions")
    assert not any("dedication" in t for t in plain)
    assert {t["designation_id"] for t in txns} <= {d["id"] for d in designations}
    assert {t["fundraising_page_id"] for t in txns} - {None} <= {p["id"] for p in pages}
    types = {tuple(sorted({i["type"] for i in t["items"]})) for t in txns}
    assert {("donation",), ("donation", "registration"), ("offline_donation",), ("registration",)} <= types
    assert any(
        t not in (("donation",), ("donation", "registration"), ("offline_donation",), ("registration",))
        for t in types
    )
    free = [t for t in txns if [i["type"] for i in t["items"]] == ["registration"]]
    assert all(t["total_gross_amount"] == 0 and t["payment_type"] is None for t in free)


def test_mutations_rename_cancel_retitle_and_new_transactions_may_carry_dedications() -> None:
    store = SandboxStore(SandboxConfig(seed=3, organizations=1, sizes=Sizes(transactions=400)))
    org = next(iter(store.orgs))
    fund = store.dump(org, "designations")[1]
    assert store.update(org, "designations", fund["id"], {"name": "Renamed"})["name"] == "Renamed"  # type: ignore[index]
    page = store.dump(org, "fundraising-pages")[0]
    assert store.update(org, "fundraising-pages", page["id"], {"title": "New"})["title"] == "New"  # type: ignore[index]
    created = [store.create(org, "transactions", {}) for _ in range(60)]
    assert any(store.dedication(org, t["id"]) is not None for t in created)
    dedication = store.dump(org, "dedications")[0]
    store.delete(org, "dedications", dedication["id"])
    assert store.dedication(org, dedication["transaction_id"]) is None
