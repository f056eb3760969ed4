"""Envelope, paging, per_page clamp, filter/sort/with/fields grammar."""

from __future__ import annotations

import math
import re
from typing import Any

import httpx
import pytest

from sandbox.server import SandboxHandle

pytestmark = pytest.mark.timeout(60)
ENVELOPE = [
    "current_page",
    "data",
    "first_page_url",
    "from",
    "last_page",
    "last_page_url",
    "links",
    "next_page_url",
    "path",
    "per_page",
    "prev_page_url",
    "to",
    "total",
]
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0000$")


def org(h: SandboxHandle) -> int:
    return h.organization_ids[0]


async def all_rows(shared: SandboxHandle, resource: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=30) as c:
        rows: list[dict[str, Any]] = (
            await c.get(f"{shared.control_url}/organizations/{org(shared)}/{resource}/all")
        ).json()
    return rows


async def test_envelope_and_end_pages(shared: SandboxHandle, api: httpx.AsyncClient) -> None:
    path = f"/organizations/{org(shared)}/supporters"
    first = await api.get(path, params={"per_page": 50, "sort": "id"})
    body = first.json()
    assert list(body) == ENVELOPE
    total = body["total"]
    last = math.ceil(total / 50)
    assert (body["current_page"], body["per_page"], body["from"], body["to"], body["last_page"]) == (
        1,
        50,
        1,
        50,
        last,
    )
    assert body["prev_page_url"] is None
    assert body["path"] == f"{shared.api_url}{path}"
    assert body["next_page_url"] == f"{shared.api_url}{path}?per_page=50&sort=id&page=2"
    assert body["links"][0] == {"url": None, "label": "&laquo; Previous", "active": False}
    assert body["links"][-1]["label"] == "Next &raquo;"
    assert {
        "url": f"{shared.api_url}{path}?per_page=50&sort=id&page=1",
        "label": "1",
        "active": True,
    } in body["links"]
    end = (await api.get(body["last_page_url"])).json()
    assert end["current_page"] == last and end["next_page_url"] is None
    assert end["to"] == total and end["from"] == (last - 1) * 50 + 1
    beyond = (await api.get(path, params={"per_page": 50, "page": last + 1})).json()
    assert beyond["data"] == [] and beyond["from"] is None and beyond["to"] is None
    assert beyond["next_page_url"] is None and beyond["prev_page_url"] is not None
    seen = []
    url: str | None = f"{shared.api_url}{path}?per_page=50&sort=id"
    while url:
        page = (await api.get(url)).json()
        seen.extend(r["id"] for r in page["data"])
        url = page["next_page_url"]
    assert seen == sorted(seen) and len(seen) == total == len(set(seen))


async def test_long_links_window(shared: SandboxHandle, api: httpx.AsyncClient) -> None:
    body = (
        await api.get(f"/organizations/{org(shared)}/transactions", params={"per_page": 10, "page": 40})
    ).json()
    labels = [link["label"] for link in body["links"]]
    assert labels[:4] == ["&laquo; Previous", "1", "2", "..."]
    assert labels[4:11] == [str(n) for n in range(37, 44)]
    assert labels[-1] == "Next &raquo;" and labels[-4] == "..."


async def test_per_page_default_and_clamp(shared: SandboxHandle, api: httpx.AsyncClient) -> None:
    path = f"/organizations/{org(shared)}/transactions"
    default = (await api.get(path)).json()
    clamped = (await api.get(path, params={"per_page": 500})).json()
    junk = (await api.get(path, params={"per_page": "abc", "page": "-3"})).json()
    assert default["per_page"] == 20 and len(default["data"]) == 20
    assert clamped["per_page"] == 100 and len(clamped["data"]) == 100
    assert junk["per_page"] == 20 and junk["current_page"] == 1


async def test_with_items_only_when_asked(shared: SandboxHandle, api: httpx.AsyncClient) -> None:
    path = f"/organizations/{org(shared)}/transactions"
    plain = (await api.get(path)).json()["data"]
    rich = (await api.get(path, params={"with": "items,supporter"})).json()["data"]
    assert all("items" not in r for r in plain)
    assert all(r["items"] and r["items"][0]["transaction_id"] == r["id"] for r in rich)
    linked = [r for r in rich if r["supporter_id"] is not None]
    assert linked and all(r["supporter"]["email_address"] == r["member_email_address"] for r in linked)
    bad = await api.get(path, params={"with": "nonsense"})
    assert bad.status_code == 400 and "errors" in bad.json()


async def test_fields_param(shared: SandboxHandle, api: httpx.AsyncClient) -> None:
    r = (
        await api.get(f"/organizations/{org(shared)}/supporters", params={"fields": "id,email_address"})
    ).json()
    assert all(set(row) == {"id", "email_address"} for row in r["data"])


async def test_record_shapes(shared: SandboxHandle, api: httpx.AsyncClient) -> None:
    txn = (await api.get(f"/organizations/{org(shared)}/transactions", params={"per_page": 100})).json()[
        "data"
    ]
    t = txn[0]
    assert isinstance(t["total_gross_amount"], float) and isinstance(t["card_last_four"], int | None)
    assert set(t["consent"]) == {
        "email_opt_in",
        "email_consent_decision_date",
        "sms_opt_in",
        "sms_consent_decision_date",
    }
    assert TS_RE.match(t["created_at"]) and t["context"]["source_campaign_id"] == t["campaign_id"]
    camp = (await api.get(f"/organizations/{org(shared)}/campaigns")).json()["data"][0]
    assert isinstance(camp["raw_goal"], str) and isinstance(camp["goal"], float)
    plan = (await api.get(f"/organizations/{org(shared)}/recurring-donation-plans")).json()["data"][0]
    assert isinstance(plan["raw_donation_amount"], str) and plan["schedule"]["mmdd"]
    reg = (await api.get(f"/organizations/{org(shared)}/registrations")).json()["data"][0]
    assert "email" in reg and "email_address" not in reg


@pytest.mark.parametrize("op", ["<=", ">=", "<>", "!=", "=", "<", ">"])
async def test_each_operator(shared: SandboxHandle, api: httpx.AsyncClient, op: str) -> None:
    rows = await all_rows(shared, "transactions")
    pivot = sorted(r["id"] for r in rows)[len(rows) // 3]
    py = {
        "<=": lambda a: a <= pivot,
        ">=": lambda a: a >= pivot,
        "<>": lambda a: a != pivot,
        "!=": lambda a: a != pivot,
        "=": lambda a: a == pivot,
        "<": lambda a: a < pivot,
        ">": lambda a: a > pivot,
    }[op]
    body = (
        await api.get(
            f"/organizations/{org(shared)}/transactions", params={"filter": f"id{op}{pivot}", "per_page": 1}
        )
    ).json()
    assert body["total"] == sum(1 for r in rows if py(r["id"]))


async def test_string_bool_and_null_filters(shared: SandboxHandle, api: httpx.AsyncClient) -> None:
    rows = await all_rows(shared, "transactions")
    path = f"/organizations/{org(shared)}/transactions"

    async def total(f: str) -> int:
        r = await api.get(path, params={"filter": f, "per_page": 1})
        assert r.status_code == 200, r.text
        n: int = r.json()["total"]
        return n

    assert await total("status=success") == sum(r["status"] == "success" for r in rows)
    assert await total("status=SUCCESS") == sum(r["status"] == "success" for r in rows)
    assert (
        await total("is_anonymous=true")
        == await total("is_anonymous=1")
        == sum(r["is_anonymous"] for r in rows)
    )
    assert await total("is_anonymous=0") == sum(not r["is_anonymous"] for r in rows)
    assert await total("updated_at=null") == sum(r["updated_at"] is None for r in rows) > 0
    assert await total("supporter_id!=null") == sum(r["supporter_id"] is not None for r in rows)
    assert await total("context.source_campaign_type=donation") == sum(
        r["context"]["source_campaign_type"] == "donation" for r in rows
    )
    both = await total("status=refunded,is_donor_covered_fee=true")
    assert both == sum(r["status"] == "refunded" and r["is_donor_covered_fee"] for r in rows) > 0


async def test_date_forms(shared: SandboxHandle, api: httpx.AsyncClient) -> None:
    rows = await all_rows(shared, "supporters")
    path = f"/organizations/{org(shared)}/supporters"
    expected = sum(1 for r in rows if r["updated_at"] and r["updated_at"] >= "2023-01-01T00:00:00+0000")
    for value in (
        "2023-01-01",
        "2023-01-01T00:00:00+0000",
        "2023-01-01T00:00:00Z",
        "2022-12-31T19:00:00-0500",
    ):
        r = await api.get(path, params={"filter": f"updated_at>={value}", "per_page": 1})
        assert r.status_code == 200 and r.json()["total"] == expected, value


async def test_rejected_filters(shared: SandboxHandle, api: httpx.AsyncClient) -> None:
    base = f"{shared.api_url}/organizations/{org(shared)}/supporters"
    cases = {
        "millis": f"{base}?filter=updated_at%3E%3D2023-01-01T00%3A00%3A00.000Z",
        "plus unencoded": f"{base}?filter=updated_at%3E%3D2023-01-01T00%3A00%3A00+0000",
        "double encoded": f"{base}?filter=updated_at%253E%253D2023-01-01",
        "unknown field": f"{base}?filter=shoe_size%3D9",
        "bad int": f"{base}?filter=id%3Dabc",
        "bad bool": f"{base}?filter=opt_in%3Dmaybe",
        "bad sort": f"{base}?sort=shoe_size",
        "bad direction": f"{base}?sort=id%3Aup",
    }
    for name, url in cases.items():
        r = await api.get(url)
        assert r.status_code == 400, name
        assert isinstance(r.json()["errors"], list) and r.json()["errors"], name
    ok = await api.get(f"{base}?filter=updated_at%3E%3D2023-01-01T00%3A00%3A00%2B0000")
    assert ok.status_code == 200


async def test_multi_key_sort(shared: SandboxHandle, api: httpx.AsyncClient) -> None:
    rows = await all_rows(shared, "supporters")
    expected = sorted(rows, key=lambda r: r["id"])
    expected.sort(key=lambda r: r["first_name"].casefold(), reverse=True)
    expected.sort(key=lambda r: r["last_name"].casefold())
    got: list[int] = []
    for page in (1, 2):
        body = (
            await api.get(
                f"/organizations/{org(shared)}/supporters",
                params={"sort": "last_name:asc,first_name:desc", "per_page": 100, "page": page},
            )
        ).json()
        got.extend(r["id"] for r in body["data"])
    assert got == [r["id"] for r in expected[:200]]
    desc = (
        await api.get(
            f"/organizations/{org(shared)}/supporters",
            params={"sort": "updated_at:desc,id:desc", "per_page": 100},
        )
    ).json()["data"]
    keys = [(r["updated_at"] or "", r["id"]) for r in desc]
    assert keys == sorted(keys, reverse=True)


async def test_a_list_can_be_made_to_ignore_filter_and_sort(
    fresh: SandboxHandle, fresh_api: httpx.AsyncClient
) -> None:
    path = f"/organizations/{org(fresh)}/registrations"
    query = {"per_page": 100, "filter": "id>1000000000", "sort": "updated_at:desc"}
    assert (await fresh_api.get(path, params=query)).json()["total"] == 0
    async with httpx.AsyncClient(base_url=fresh.control_url, timeout=10) as control:
        bad = await control.post("/quirks", json={"resource": "registrations", "ignore": "everything"})
        assert bad.status_code == 400
        r = await control.post("/quirks", json={"resource": "registrations", "ignore": "filter_and_sort"})
        assert r.json() == {"registrations": "filter_and_sort"}
        body = (await fresh_api.get(path, params=query)).json()
        ids = [row["id"] for row in body["data"]]
        assert body["total"] == 120 and ids == sorted(ids)  # everything, in id order
        await control.post("/quirks", json={"resource": "registrations", "ignore": "sort"})
        sorted_query = {"per_page": 100, "filter": f"id>{ids[9]}", "sort": "updated_at:desc"}
        body = (await fresh_api.get(path, params=sorted_query)).json()
        assert body["total"] == 110 and [row["id"] for row in body["data"]][:90] == ids[10:]
        # Other lists are untouched; null honours the query again.
        supporters = f"/organizations/{org(fresh)}/supporters"
        assert (await fresh_api.get(supporters, params=query)).json()["total"] == 0
        assert (await control.post("/quirks", json={"resource": "registrations"})).json() == {}
        assert (await control.get("/quirks")).json() == {}
    assert (await fresh_api.get(path, params=query)).json()["total"] == 0


async def test_a_list_can_be_made_to_answer_404(fresh: SandboxHandle, fresh_api: httpx.AsyncClient) -> None:
    path = f"/organizations/{org(fresh)}/registrations"
    async with httpx.AsyncClient(base_url=fresh.control_url, timeout=10) as control:
        rule = {"kind": "404", "rate": 1.0, "path_prefix": f"/2.0{path}"}
        assert (await control.post("/faults", json=rule)).status_code == 201
    assert (await fresh_api.get(path)).status_code == 404
    assert (await fresh_api.get(f"/organizations/{org(fresh)}/supporters")).status_code == 200
