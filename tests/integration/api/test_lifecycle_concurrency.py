"""Two admins clicking at once: row locks make one win; the state is never corrupted."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.api.lifecycle_helpers import ADMIN, ADMIN2, events, status


async def _force_status(db: AsyncEngine, value: str) -> None:
    async with db.begin() as connection:
        await connection.execute(
            text("UPDATE integration SET status = :s WHERE account = 'acme'"), {"s": value}
        )


async def test_concurrent_connects_create_one_row(client: httpx.AsyncClient, db: AsyncEngine) -> None:
    responses = await asyncio.gather(
        *(client.post("/api/v1/apps/classy/connect", headers=h) for h in [ADMIN, ADMIN2] * 4)
    )
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    async with db.connect() as connection:
        rows = (await connection.execute(text("SELECT status, version FROM integration"))).all()
    assert rows == [("awaiting_credentials", 1)]
    assert [e["action"] for e in await events(client)] == ["connect"]


async def test_concurrent_pause_one_wins_other_409(client: httpx.AsyncClient, db: AsyncEngine) -> None:
    await client.post("/api/v1/apps/classy/connect", headers=ADMIN)
    await _force_status(db, "connected")
    first, second = await asyncio.gather(
        client.post("/api/v1/apps/classy/pause", headers=ADMIN),
        client.post("/api/v1/apps/classy/pause", headers=ADMIN2),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    loser = first if first.status_code == 409 else second
    assert loser.json() == {
        "detail": "Cannot pause: the Classy integration is paused.",
        "code": "invalid_state",
    }
    body = await status(client)
    assert body["status"] == "paused" and body["badge"] == "Paused" and body["version"] == 2
    assert [e["action"] for e in await events(client)] == ["pause", "connect"]


async def test_pause_and_disconnect_race_ends_in_a_valid_state(
    client: httpx.AsyncClient, db: AsyncEngine
) -> None:
    await client.post("/api/v1/apps/classy/connect", headers=ADMIN)
    await _force_status(db, "connected")
    results = await asyncio.gather(
        client.post("/api/v1/apps/classy/pause", headers=ADMIN),
        client.post("/api/v1/apps/classy/disconnect", headers=ADMIN2),
        client.post("/api/v1/apps/classy/resume", headers=ADMIN),
    )
    assert all(r.status_code in (200, 409) for r in results)
    body = await status(client)
    assert body["status"] == "disconnected"  # disconnect is allowed from every state the others reach
    succeeded = sum(r.status_code == 200 for r in results)
    assert body["version"] == 1 + succeeded
    assert len(await events(client)) == 1 + succeeded
