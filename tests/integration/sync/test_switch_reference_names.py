"""After a switch to another organization, its new gifts show their campaign's and fund's names.

API.md: a different organization brings its records updated since the last successful sync, never its
older history. A campaign or a designation is not a donor's history but what a gift is for: the gift
names it (`campaign_name`, `designation_name`), so a gift made after the switch in a campaign created
years ago must still show that campaign's name.
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from sandbox.server import SandboxHandle
from tests.integration.sync.helpers import (
    ADMIN,
    connect,
    reconnect,
    service,
    sync_settings,
    wait_for_run,
)


async def _all_donations(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 500} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/v1/donations", headers=ADMIN, params=params)).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_a_new_gift_in_the_switched_organization_names_its_old_campaign_and_fund(
    db: AsyncEngine, database_url: str, sandbox: SandboxHandle
) -> None:
    org_a, org_b = sandbox.organization_ids[:2]
    store = sandbox.store
    assert store is not None
    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, org_a)
        first = await wait_for_run(client)
        assert first["status"] == "succeeded"
        await client.post("/api/v1/apps/classy/disconnect", headers=ADMIN)
        campaign = store.dump(org_b, "campaigns")[0]
        fund = store.dump(org_b, "designations")[0]
        donor = store.dump(org_b, "supporters")[0]
        gift: dict[str, Any] = store.create(
            org_b,
            "transactions",
            {"supporter_id": donor["id"], "campaign_id": campaign["id"], "designation_id": fund["id"]},
        )
        await reconnect(client, sandbox, org_b)
        run = await wait_for_run(client, after_id=first["id"])
        assert run["status"] == "succeeded", run
        found = [d for d in await _all_donations(client) if d["classy_transaction_id"] == gift["id"]]
    assert len(found) == 1, (gift, run["streams"]["transactions"])
    assert found[0]["classy_campaign_id"] == campaign["id"]
    assert found[0]["campaign_name"] == campaign["name"]
    assert found[0]["designation_id"] == fund["id"]
    assert found[0]["designation_name"] == fund["name"]
