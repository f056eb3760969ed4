"""Issue #11 end to end: every new field equals the sandbox's record after an import and after changes.

Funds, pages, teams, payment, fees, dedications and the kind of each donation; company, cell phone and
SMS consent of contacts; campaigns, recurring plans and registrations with their contacts. Then a
designation is renamed, a plan canceled, a page retitled and a team renamed in Classy, and the next
sync shows each. Every list's CSV parses back to its JSON items.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.classy.timestamps import parse_timestamp
from app.db.models import Donation
from sandbox.server import SandboxHandle
from sandbox.store import SandboxStore
from tests.integration.sync.helpers import ADMIN, connect, service, sync_settings, wait_for_run

Row = dict[str, Any]
CARD_SECRETS = ("card_expiration", "account_number", "account_type", "institution")


async def _all(client: httpx.AsyncClient, path: str, **params: Any) -> list[Row]:
    items: list[Row] = []
    cursor: str | None = None
    while True:
        query = {"limit": 500, **params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, headers=ADMIN, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return items


def _money(value: Any) -> str | None:
    return None if value is None else f"{Decimal(str(value)).quantize(Decimal('0.01'))}"


def _ts(value: Any) -> Any:
    return None if value in (None, "") else parse_timestamp(value)


def _kind(t: Row) -> str:
    types = [i.get("type") or "" for i in t.get("items") or []]
    total = Decimal(str(t.get("total_gross_amount") or 0))
    if not types:
        return "other"
    if "registration" in types and total > 0:
        return "ticket"
    if set(types) == {"registration"} and total == 0:
        return "registration"
    if set(types) == {"donation"}:
        return "donation"
    if set(types) == {"offline_donation"}:
        return "offline_donation"
    return "other"


def _names(store: SandboxStore, org: int, resource: str, field: str) -> dict[int, Any]:
    return {row["id"]: row[field] for row in store.dump(org, resource)}


def _expected_donation(store: SandboxStore, org: int, t: Row, names: dict[str, dict[int, Any]]) -> Row:
    dedication = store.dedication(org, t["id"])
    last_four = t.get("card_last_four")
    return {
        "classy_organization_id": org,
        "classy_supporter_id": t.get("supporter_id"),
        "classy_campaign_id": t.get("campaign_id"),
        "campaign_name": names["campaign"].get(t.get("campaign_id")),
        "kind": _kind(t),
        "designation_id": t.get("designation_id"),
        "designation_name": names["designation"].get(t.get("designation_id")),
        "classy_fundraising_page_id": t.get("fundraising_page_id"),
        "fundraising_page_title": names["page"].get(t.get("fundraising_page_id")),
        "classy_fundraising_team_id": t.get("fundraising_team_id"),
        "fundraising_team_name": names["team"].get(t.get("fundraising_team_id")),
        "payment_type": t.get("payment_type"),
        "payment_method": t.get("payment_method"),
        "card_type": t.get("card_type"),
        "card_last_four": None if last_four is None else f"{last_four:04d}",
        "donor_covered_fees": t.get("is_donor_covered_fee"),
        "classy_fees_amount": _money(t.get("classy_fees_amount")),
        "processor_fees_amount": _money(t.get("pp_fees_amount")),
        "raw_currency": t.get("raw_currency_code"),
        "raw_amount": _money(t.get("raw_donation_gross_amount")),
        "company_name": t.get("company_name"),
        "hide_amount": t.get("hide_amount"),
        "comment": t.get("comment"),
        "dedication": None
        if dedication is None
        else {k: dedication.get(k) for k in ("type", "honoree_name", "name", "email_address")},
        "amount": _money(t.get("donation_gross_amount")),
        "status": t.get("status"),
        "classy_recurring_plan_id": t.get("recurring_donation_plan_id"),
    }


def _latest(values: list[tuple[Any, Any]]) -> set[Any]:
    """The non-null values of the most recent records (several when they share that second)."""
    present = [(at, v) for at, v in values if v is not None]
    if not present:
        return {None}
    newest = max(at for at, _ in present)
    return {v for at, v in present if at == newest}


async def _assert_matches(
    client: httpx.AsyncClient, session: AsyncSession, store: SandboxStore, org: int
) -> None:
    names = {
        "campaign": _names(store, org, "campaigns", "name"),
        "designation": _names(store, org, "designations", "name"),
        "page": _names(store, org, "fundraising-pages", "title"),
        "team": _names(store, org, "fundraising-teams", "name"),
    }
    transactions = {t["id"]: t for t in store.dump(org, "transactions")}
    donations = {d["classy_transaction_id"]: d for d in await _all(client, "/api/v1/donations")}
    assert set(donations) == set(transactions)
    for tid, t in transactions.items():
        expected = _expected_donation(store, org, t, names)
        got = {k: donations[tid][k] for k in expected}
        assert got == expected, f"transaction {tid}: {got} != {expected}"
    kinds = {d["kind"] for d in donations.values()}
    assert kinds == {"donation", "ticket", "registration", "offline_donation", "other"}
    assert any(d["dedication"] for d in donations.values())

    # Nothing more of a card or bank account is stored than its type and last four digits.
    raws = (await session.execute(select(Donation.raw).where(Donation.organization_id == org))).scalars()
    assert not any(key in raw for raw in raws for key in CARD_SECRETS)

    # Contacts: cell phone from the supporter first, else (like company and SMS consent) from the
    # person's most recent transaction that has one.
    contacts = {c["email"].lower(): c for c in await _all(client, "/api/v1/contacts") if c["email"]}
    supporters = {s["id"]: s for s in store.dump(org, "supporters")}
    history: dict[str, list[Row]] = {}
    for t in transactions.values():
        sup = supporters.get(t.get("supporter_id"))
        email = (sup["email_address"] if sup else t.get("member_email_address") or "").lower()
        history.setdefault(email, []).append(t)
    supporter_by_email = {s["email_address"].lower(): s for s in supporters.values()}
    checked = 0
    for email, txns in history.items():
        if not email:
            continue
        contact = contacts[email]
        at = [_ts(t.get("updated_at") or t.get("created_at")) for t in txns]
        sms = _latest(
            [(a, (t.get("consent") or {}).get("sms_opt_in")) for a, t in zip(at, txns, strict=True)]
        )
        company = _latest([(a, t.get("company_name")) for a, t in zip(at, txns, strict=True)])
        cell = _latest([(a, t.get("member_cell_phone")) for a, t in zip(at, txns, strict=True)])
        own_cell = (supporter_by_email.get(email) or {}).get("cell_phone")
        assert contact["sms_opt_in"] in sms, email
        assert contact["company"] in company, email
        assert contact["cell_phone"] in ({own_cell} if own_cell else cell), email
        checked += contact["sms_opt_in"] is not None
    assert checked > 10

    # Contacts of plans and registrations: through the supporter's email, else the registrant's own.
    contact_ids = {email: c["id"] for email, c in contacts.items()}

    def contact_of(supporter_id: int | None, email: str | None) -> int | None:
        sup = supporters.get(supporter_id) if supporter_id else None
        key = (sup["email_address"] if sup else email or "").lower()
        return contact_ids.get(key)

    plans = {p["classy_recurring_plan_id"]: p for p in await _all(client, "/api/v1/recurring-plans")}
    truth_plans = {p["id"]: p for p in store.dump(org, "recurring-donation-plans")}
    assert set(plans) == set(truth_plans)
    for pid, p in truth_plans.items():
        got = plans[pid]
        assert (got["status"], got["amount"], got["frequency"], got["classy_campaign_id"]) == (
            p["status"],
            _money(p["donation_amount"]),
            p["frequency"],
            p["campaign_id"],
        )
        assert got["next_charge_on"] == p["next_processing_date"]
        assert _ts(got["canceled_at"]) == _ts(p["canceled_at"])
        assert got["contact_id"] == contact_of(p["supporter_id"], None) is not None

    registrations = {r["classy_registration_id"]: r for r in await _all(client, "/api/v1/registrations")}
    truth_regs = {r["id"]: r for r in store.dump(org, "registrations")}
    assert set(registrations) == set(truth_regs)
    for rid, r in truth_regs.items():
        got = registrations[rid]
        assert (got["status"], got["ticket_name"], got["classy_transaction_id"]) == (
            r["status"],
            r["product_name"],
            r["transaction_id"],
        )
        assert got["campaign_name"] == names["campaign"][r["campaign_id"]]
        assert got["contact_id"] == contact_of(r["supporter_id"], r["email"]) is not None

    campaigns = {c["classy_campaign_id"]: c for c in await _all(client, "/api/v1/campaigns")}
    truth_campaigns = {c["id"]: c for c in store.dump(org, "campaigns")}
    assert set(campaigns) == set(truth_campaigns)
    for cid, c in truth_campaigns.items():
        got = campaigns[cid]
        assert (got["name"], got["type"], got["status"], got["goal"], got["currency"]) == (
            c["name"],
            c["type"],
            c["status"],
            _money(c["goal"]),
            c["currency_code"],
        )


def _flat(item: Row) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in item.items():
        if isinstance(value, dict):
            out.update({f"{key}_{k}": _text(v) for k, v in value.items()})
        else:
            out[key] = _text(value)
    return out


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _unguard(value: str) -> str:
    return value[1:] if value[:1] == "'" and value[1:2] in ("=", "+", "-", "@", "\t", "\r") else value


async def _assert_csv_matches_json(client: httpx.AsyncClient, path: str, **params: Any) -> int:
    items = await _all(client, path, **params)
    response = await client.get(path, headers={**ADMIN, "Accept": "text/csv"}, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text, newline="")))
    header, body = rows[0], rows[1:]
    assert len(header) == len(set(header))
    parsed = [{k: _unguard(v) for k, v in zip(header, row, strict=True)} for row in body]
    flat = [_flat(i) for i in items]
    for row, item in zip(parsed, flat, strict=True):
        # A dedication that is null shows as empty dedication_* cells.
        assert row == {k: item.get(k, "") for k in header}, (path, row, item)
    assert len(parsed) == len(items)
    return len(parsed)


@pytest.mark.parametrize("ignored", [None, "filter_and_sort"])
async def test_new_fields_follow_the_sandbox_through_import_and_changes(
    db: AsyncEngine, session: AsyncSession, database_url: str, sandbox: SandboxHandle, ignored: str | None
) -> None:
    """Also when Classy ignores filter and sort on the new lists (the spec declares neither there)."""
    org = sandbox.organization_ids[0]
    store = sandbox.store
    assert store is not None
    for resource in ("designations", "fundraising-pages", "fundraising-teams"):
        store.set_quirk(resource, ignored)
    async with service(sync_settings(database_url, sandbox)) as client:
        await connect(client, sandbox, org)
        first = await wait_for_run(client)
        assert first["status"] == "succeeded", first
        new_lists = ("designations", "fundraising_pages", "fundraising_teams")
        assert {first["streams"][name].get("read") for name in new_lists} == (
            {"incremental"} if ignored is None else {"whole"}
        ), first["streams"]
        await _assert_matches(client, session, store, org)

        designation = store.dump(org, "designations")[1]
        store.update(org, "designations", designation["id"], {"name": "Renamed Fund"})
        plan = next(p for p in store.dump(org, "recurring-donation-plans") if p["status"] == "active")
        store.update(
            org, "recurring-donation-plans", plan["id"], {"status": "canceled", "canceled_at": "2025-06-01"}
        )
        page = store.dump(org, "fundraising-pages")[0]
        store.update(org, "fundraising-pages", page["id"], {"title": "A brand new title"})
        team = store.dump(org, "fundraising-teams")[0]
        store.update(org, "fundraising-teams", team["id"], {"name": "Renamed Team"})
        response = await client.post("/api/v1/apps/classy/sync", headers=ADMIN)
        assert response.status_code == 202, response.text
        second = await wait_for_run(client, after_id=first["id"])
        assert second["status"] == "succeeded", second
        await _assert_matches(client, session, store, org)
        renamed = await _all(client, "/api/v1/donations")
        assert any(d["designation_name"] == "Renamed Fund" for d in renamed)
        assert any(d["fundraising_page_title"] == "A brand new title" for d in renamed)
        plans = await _all(client, "/api/v1/recurring-plans", status="canceled")
        assert plan["id"] in {p["classy_recurring_plan_id"] for p in plans}

        # The CSV of each list parses back to its JSON items (with filters too).
        for path in ("/api/v1/contacts", "/api/v1/donations", "/api/v1/campaigns"):
            assert await _assert_csv_matches_json(client, path) > 0
        for path in ("/api/v1/recurring-plans", "/api/v1/registrations"):
            assert await _assert_csv_matches_json(client, path) > 0
        assert await _assert_csv_matches_json(client, "/api/v1/donations", status="refunded") > 0
        some_plan = plans[0]
        paid = await _assert_csv_matches_json(
            client, "/api/v1/donations", classy_recurring_plan_id=some_plan["classy_recurring_plan_id"]
        )
        truth = [
            t
            for t in store.dump(org, "transactions")
            if t["recurring_donation_plan_id"] == some_plan["classy_recurring_plan_id"]
        ]
        assert paid == len(truth)
