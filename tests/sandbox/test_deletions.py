"""Deletes (Classy's DELETE /supporters/{id}, the control API's), restores, refunds that keep updated_at."""

from __future__ import annotations

import httpx
import pytest

from sandbox.server import SandboxHandle

pytestmark = pytest.mark.timeout(60)


async def _ids(api: httpx.AsyncClient, path: str) -> list[int]:
    body = (await api.get(path, params={"per_page": 100, "sort": "id:asc"})).json()
    ids = [r["id"] for r in body["data"]]
    page = 2
    while page <= body["last_page"]:
        more = (await api.get(path, params={"per_page": 100, "sort": "id:asc", "page": page})).json()
        ids += [r["id"] for r in more["data"]]
        page += 1
    return ids


async def test_delete_supporter_answers_empty_object_and_leaves_every_list(
    fresh: SandboxHandle, fresh_api: httpx.AsyncClient
) -> None:
    org = fresh.organization_ids[0]
    path = f"/organizations/{org}/supporters"
    before = (await fresh_api.get(path, params={"per_page": 1})).json()["total"]
    victim = (await fresh_api.get(path, params={"per_page": 1, "sort": "id:asc"})).json()["data"][0]["id"]
    response = await fresh_api.delete(f"/supporters/{victim}")
    assert response.status_code == 200 and response.json() == {}
    assert (await fresh_api.get(path, params={"per_page": 1})).json()["total"] == before - 1
    assert victim not in await _ids(fresh_api, path)
    again = await fresh_api.delete(f"/supporters/{victim}")
    assert again.status_code == 404 and again.json() == {"error": "The resource cannot be found"}
    async with httpx.AsyncClient(base_url=fresh.api_url) as anonymous_client:
        anonymous = await anonymous_client.delete(f"/supporters/{victim + 1}")
    assert anonymous.status_code == 401


async def test_control_delete_and_restore_every_resource(
    fresh: SandboxHandle, fresh_api: httpx.AsyncClient
) -> None:
    org = fresh.organization_ids[0]
    async with httpx.AsyncClient(base_url=fresh.control_url, timeout=10) as control:
        for resource in (
            "supporters",
            "transactions",
            "registrations",
            "recurring-donation-plans",
            "campaigns",
        ):
            path = f"/organizations/{org}/{resource}"
            first = (await fresh_api.get(path, params={"per_page": 1, "sort": "id:asc"})).json()["data"][0]
            assert (await control.delete(f"{path}/{first['id']}")).json() == {"deleted": True}
            assert first["id"] not in await _ids(fresh_api, path), resource
            restored = await control.post(f"{path}/{first['id']}/restore")
            assert restored.status_code == 200, restored.text
            assert restored.json()["updated_at"] == first["updated_at"], "a plain restore keeps updated_at"
            back = (await fresh_api.get(path, params={"per_page": 1, "sort": "id:asc"})).json()["data"][0]
            assert back["id"] == first["id"], resource
            missing = await control.post(f"{path}/{first['id']}/restore")
            assert missing.status_code == 404


async def test_refund_can_leave_updated_at_alone(fresh: SandboxHandle, fresh_api: httpx.AsyncClient) -> None:
    org = fresh.organization_ids[0]
    path = f"/organizations/{org}/transactions"
    rows = (await fresh_api.get(path, params={"per_page": 50, "filter": "status=success"})).json()["data"]
    quiet, loud = rows[0], rows[1]
    async with httpx.AsyncClient(base_url=fresh.control_url, timeout=10) as control:
        r1 = await control.post(f"{path}/{quiet['id']}/refund", json={"touch_updated_at": False})
        r2 = await control.post(
            f"{path}/{loud['id']}/refund", json={"refunded_at": "2030-01-02T03:04:05+0000"}
        )
    assert r1.json()["status"] == "refunded" and r1.json()["refunded_at"] is not None
    assert r1.json()["updated_at"] == quiet["updated_at"]
    assert r2.json()["updated_at"] == r2.json()["refunded_at"] == "2030-01-02T03:04:05+0000"
    found = (await fresh_api.get(path, params={"filter": "refunded_at>=2030-01-01", "per_page": 5})).json()
    assert [t["id"] for t in found["data"]] == [loud["id"]]
