"""API.md §3 keyset pagination: `next_cursor` is null on the last page, also when that page is full.

An integrator who asks for exactly as many rows as remain must not be sent on to an empty page.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import bearer
from tests.integration.api.test_synced_data import seed

MEMBER = bearer(role="member")


@pytest.mark.parametrize(("path", "total"), [("/api/v1/contacts", 5), ("/api/v1/donations", 2)])
async def test_full_last_page_has_no_next_cursor(
    client: httpx.AsyncClient, session: AsyncSession, path: str, total: int
) -> None:
    await seed(session, "acme")
    whole = (await client.get(path, headers=MEMBER, params={"limit": total})).json()
    assert len(whole["items"]) == total and whole["next_cursor"] is None
    first = (await client.get(path, headers=MEMBER, params={"limit": total - 1})).json()
    assert len(first["items"]) == total - 1 and first["next_cursor"]
    rest = (
        await client.get(path, headers=MEMBER, params={"limit": 1, "cursor": first["next_cursor"]})
    ).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    ids = [item["id"] for item in first["items"] + rest["items"]]
    assert ids == sorted(ids) and len(set(ids)) == total
