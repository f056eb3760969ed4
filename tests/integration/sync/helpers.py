"""Shared pieces of the sync tests: a service wired to a sandbox, waiting for runs, comparing data."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.classy.timestamps import parse_timestamp
from app.db.models import Contact, Donation, Registration, Supporter
from app.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import bearer, make_settings, running_app

ADMIN = bearer("acme", "alice", "admin", name="Alice Admin")


def sync_settings(database_url: str, sandbox: SandboxHandle, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "CLASSY_API_URL": sandbox.api_url,
        "CLASSY_TOKEN_URL": sandbox.token_url,
        "CLASSY_AUTHORIZE_URL": sandbox.authorize_url,
        "SCHEDULER_ENABLED": True,
        "SCHEDULER_TICK_SECONDS": 0.2,
        "SYNC_INTERVAL_SECONDS": 3600,
        "CLASSY_RATE_LIMIT_PER_MINUTE": 100_000,
    }
    values.update(extra)
    return make_settings(database_url, **values)


@asynccontextmanager
async def service(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(settings) as (_, client):
        yield client


def credentials(sandbox: SandboxHandle, organization_id: int) -> dict[str, Any]:
    """The Save/Reconnect body for the sandbox's app and one of its organizations."""
    return {
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        "organization_id": organization_id,
    }


async def connect(client: httpx.AsyncClient, sandbox: SandboxHandle, organization_id: int) -> dict[str, Any]:
    response = await client.post("/api/v1/apps/classy/connect", headers=ADMIN)
    assert response.status_code == 200, response.text
    response = await client.put(
        "/api/v1/apps/classy/credentials", headers=ADMIN, json=credentials(sandbox, organization_id)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def reconnect(
    client: httpx.AsyncClient, sandbox: SandboxHandle, organization_id: int
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/apps/classy/reconnect", headers=ADMIN, json=credentials(sandbox, organization_id)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def latest_run(client: httpx.AsyncClient) -> dict[str, Any] | None:
    response = await client.get("/api/v1/apps/classy/sync-runs?limit=1", headers=ADMIN)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items[0] if items else None


async def wait_for_run(
    client: httpx.AsyncClient, *, after_id: int = 0, timeout: float = 120.0
) -> dict[str, Any]:
    """The first run newer than `after_id` once it has finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = await latest_run(client)
        if run is not None and run["id"] > after_id and run["status"] != "running":
            return run
        await asyncio.sleep(0.1)
    raise AssertionError(f"no sync run finished within {timeout} s (latest: {await latest_run(client)})")


async def wait_until(predicate: Any, timeout: float = 60.0, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(interval)
    raise AssertionError("condition not reached in time")


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def _ts(value: Any) -> Any:
    return None if value in (None, "") else parse_timestamp(value)


async def assert_matches_sandbox(
    session: AsyncSession, sandbox: SandboxHandle, organization_id: int, account: str = "acme"
) -> None:
    """The database holds exactly the sandbox's current supporters, transactions and registrations."""
    store = sandbox.store
    assert store is not None
    session.expire_all()
    for resource, model, key in (
        ("supporters", Supporter, Supporter.classy_id),
        ("registrations", Registration, Registration.classy_id),
    ):
        truth = {row["id"]: row for row in store.dump(organization_id, resource)}
        rows = (
            (
                await session.execute(
                    select(model).where(model.account == account, model.organization_id == organization_id)
                )
            )
            .scalars()
            .all()
        )
        ours = {getattr(r, key.key): r.raw for r in rows}
        assert set(ours) == set(truth), (
            f"{resource}: missing {set(truth) - set(ours)}, extra {set(ours) - set(truth)}"
        )
        for rid, row in truth.items():
            assert ours[rid] == row, f"{resource} {rid} differs"
    transactions = {row["id"]: row for row in store.dump(organization_id, "transactions")}
    donations = {
        d.classy_transaction_id: d
        for d in (
            await session.execute(
                select(Donation).where(
                    Donation.account == account, Donation.organization_id == organization_id
                )
            )
        ).scalars()
    }
    assert set(donations) == set(transactions), (
        f"transactions: missing {set(transactions) - set(donations)}, "
        f"extra {set(donations) - set(transactions)}"
    )
    for tid, t in transactions.items():
        d = donations[tid]
        assert d.raw == as_stored(store, organization_id, t), f"transaction {tid} raw differs"
        assert (d.amount, d.total_amount, d.fee_amount, d.net_amount) == (
            _money(t.get("donation_gross_amount")),
            _money(t.get("total_gross_amount")),
            _money(t.get("fees_amount")),
            _money(t.get("donation_net_amount")),
        )
        assert (d.status, d.currency, d.frequency) == (
            t.get("status"),
            t.get("currency_code"),
            t.get("frequency"),
        )
        assert d.classy_campaign_id == t.get("campaign_id")
        assert d.classy_recurring_plan_id == t.get("recurring_donation_plan_id")
        assert (d.purchased_at, d.refunded_at, d.updated_at) == (
            _ts(t.get("purchased_at")),
            _ts(t.get("refunded_at")),
            _ts(t.get("updated_at")),
        )
    # One contact per email, covering every supporter, registrant and supporter-less purchaser.
    emails = {
        (row.get("email_address") or "").strip().lower() for row in store.dump(organization_id, "supporters")
    } | {(row.get("email") or "").strip().lower() for row in store.dump(organization_id, "registrations")}
    emails |= {
        (t.get("member_email_address") or "").strip().lower()
        for t in transactions.values()
        if t.get("supporter_id") is None
    }
    emails.discard("")
    contact_emails = set(
        (await session.execute(select(Contact.email_lower).where(Contact.account == account))).scalars()
    )
    assert emails <= contact_emails
    duplicates = await session.execute(
        text(
            "SELECT email_lower FROM contact WHERE email_lower IS NOT NULL "
            "GROUP BY account, email_lower HAVING count(*) > 1"
        )
    )
    assert duplicates.first() is None
    unlinked = await session.scalar(
        select(func.count())
        .select_from(Donation)
        .where(
            Donation.account == account,
            Donation.contact_id.is_(None),
            Donation.classy_supporter_id.is_not(None),
        )
    )
    assert unlinked == 0


CARD_DETAILS = ("card_expiration", "account_number", "account_type", "institution")


def as_stored(store: Any, organization_id: int, transaction: dict[str, Any]) -> dict[str, Any]:
    """A sandbox transaction as we store it: read `with=items,dedication`, card and bank details dropped."""
    stored = {k: v for k, v in transaction.items() if k not in CARD_DETAILS}
    stored["dedication"] = store.dedication(organization_id, transaction["id"])
    return stored


def data_requests(sandbox: SandboxHandle) -> list[dict[str, Any]]:
    """Requests to Classy's data API (not the token endpoint) the sandbox served, oldest first."""
    store = sandbox.store
    assert store is not None
    with store.lock:
        return [dict(e) for e in store.log.entries if e["path"].startswith("/2.0/")]


def clear_requests(sandbox: SandboxHandle) -> None:
    store = sandbox.store
    assert store is not None
    with store.lock:
        store.log.clear()
