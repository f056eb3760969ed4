"""API.md §3 keyset pagination: `next_cursor` is null on the last page, also when that page is full.

An integrator who asks for exactly as many rows as remain must not be sent on to an empty page; a walk
with a smaller page sees every row once, in id order.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import bearer
from tests.integration.api.test_synced_data import seed

MEMBER = bearer(role="member")


@pytest.mark.parametrize(
    ("path", "total"), [("/api/v1/contacts", 5), ("/api/v1/donations", 2), ("/api/v1/campaigns", 1)]
)
async def test_full_last_page_has_no_next_cursor(
    client: httpx.AsyncClient, session: AsyncSession, path: str, total: int
) -> None:
    await seed(session, "acme")
    whole = (await client.get(path, headers=MEMBER, params={"limit": total})).json()
    assert len(whole["items"]) == total and whole["next_cursor"] is None
    default = (await client.get(path, headers=MEMBER)).json()
    assert default == whole
    ids: list[int] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(path, headers=MEMBER, params=params)).json()
        assert len(page["items"]) == 1, page
        ids += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert ids == sorted(ids) and len(set(ids)) == total
