"""Reads of synced records for the API: tenant-scoped queries, keyset-paginated by id.

Each list is a query (`*_query`) that the API pages (`fetch_page`) or streams as CSV; rows come back as
the model plus the names it shows from other records. Those names (campaign, designation, fundraising
page and team) are joined when read, never copied: a rename in Classy shows as soon as it is synced.
Lists leave out rows marked deleted unless asked (`include_deleted`); reads by id always find them.

Reads never load a record's `raw` Classy payload (no API response shows it; decoding ~3 KB of JSON per
row was most of a donations page's CPU), and the parts of a query that do not depend on the caller
(joined names, contact links) are built once per process: building SQLAlchemy aliases per request was
a sixth of the API's CPU (py-spy, bench/HISTORY.md, round four).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, defer

from app.db.models import (
    Campaign,
    Contact,
    Designation,
    Donation,
    FundraisingPage,
    FundraisingTeam,
    RecurringPlan,
    Registration,
    Supporter,
)


@dataclass(frozen=True)
class DonationRow:
    donation: Donation
    campaign_name: str | None
    designation_name: str | None = None
    fundraising_page_title: str | None = None
    fundraising_team_name: str | None = None


@dataclass(frozen=True)
class RecurringPlanRow:
    plan: RecurringPlan
    contact_id: int | None


@dataclass(frozen=True)
class RegistrationRow:
    registration: Registration
    contact_id: int | None
    campaign_name: str | None


async def fetch_page(
    session: AsyncSession, query: Select[Any], id_column: Any, *, after_id: int | None, limit: int
) -> Sequence[Row[Any]]:
    """Rows after `after_id` in id order, at most `limit` (the API asks for one more than it shows)."""
    if after_id is not None:
        query = query.where(id_column > after_id)
    rows: Sequence[Row[Any]] = (await session.execute(query.order_by(id_column).limit(limit))).all()
    return rows


# -- contacts -------------------------------------------------------------------------------------------


def contacts_query(
    account: str,
    *,
    email: str | None = None,
    updated_since: datetime | None = None,
    include_deleted: bool = True,
) -> Select[Any]:
    query = select(Contact).where(Contact.account == account)
    if not include_deleted:
        query = query.where(Contact.deleted_at.is_(None))
    if email is not None:
        query = query.where(Contact.email_lower == email.strip().lower())
    if updated_since is not None:
        query = query.where(func.coalesce(Contact.classy_updated_at, Contact.updated_at) >= updated_since)
    return query


async def list_contacts(
    session: AsyncSession,
    *,
    account: str,
    after_id: int | None,
    limit: int,
    email: str | None = None,
    updated_since: datetime | None = None,
    include_deleted: bool = False,
) -> Sequence[Contact]:
    rows = await fetch_page(
        session,
        contacts_query(account, email=email, updated_since=updated_since, include_deleted=include_deleted),
        Contact.id,
        after_id=after_id,
        limit=limit,
    )
    return [row[0] for row in rows]


async def get_contact(session: AsyncSession, *, account: str, contact_id: int) -> Contact | None:
    query = select(Contact).where(Contact.account == account, Contact.id == contact_id)
    return (await session.execute(query)).scalar_one_or_none()


# -- donations ------------------------------------------------------------------------------------------


def _name_of(model: Any, column: Any, classy_id: Any) -> Any:
    return (
        select(column)
        .where(model.account == Donation.account, model.classy_id == classy_id)
        .scalar_subquery()
    )


@cache
def _donations_base() -> Select[Any]:
    return select(
        Donation,
        _name_of(Campaign, Campaign.name, Donation.classy_campaign_id).label("campaign_name"),
        _name_of(Designation, Designation.name, Donation.designation_id).label("designation_name"),
        _name_of(FundraisingPage, FundraisingPage.title, Donation.classy_fundraising_page_id).label(
            "fundraising_page_title"
        ),
        _name_of(FundraisingTeam, FundraisingTeam.name, Donation.classy_fundraising_team_id).label(
            "fundraising_team_name"
        ),
    ).options(defer(Donation.raw, raiseload=True))


def donations_query(
    account: str,
    *,
    contact_id: int | None = None,
    status: str | None = None,
    updated_since: datetime | None = None,
    classy_recurring_plan_id: int | None = None,
    include_deleted: bool = True,
) -> Select[Any]:
    query = _donations_base().where(Donation.account == account)
    if not include_deleted:
        query = query.where(Donation.deleted_at.is_(None))
    if contact_id is not None:
        query = query.where(Donation.contact_id == contact_id)
    if status is not None:
        query = query.where(Donation.status == status)
    if updated_since is not None:
        query = query.where(func.coalesce(Donation.updated_at, Donation.created_at) >= updated_since)
    if classy_recurring_plan_id is not None:
        query = query.where(Donation.classy_recurring_plan_id == classy_recurring_plan_id)
    return query


def donation_row(row: Row[Any]) -> DonationRow:
    values: tuple[Any, ...] = tuple(row)
    return DonationRow(*values)


async def list_donations(
    session: AsyncSession,
    *,
    account: str,
    after_id: int | None,
    limit: int,
    contact_id: int | None = None,
    status: str | None = None,
    updated_since: datetime | None = None,
    classy_recurring_plan_id: int | None = None,
    include_deleted: bool = False,
) -> list[DonationRow]:
    query = donations_query(
        account,
        contact_id=contact_id,
        status=status,
        updated_since=updated_since,
        classy_recurring_plan_id=classy_recurring_plan_id,
        include_deleted=include_deleted,
    )
    rows = await fetch_page(session, query, Donation.id, after_id=after_id, limit=limit)
    return [donation_row(row) for row in rows]


async def get_donation(session: AsyncSession, *, account: str, donation_id: int) -> DonationRow | None:
    row = (await session.execute(donations_query(account).where(Donation.id == donation_id))).first()
    return donation_row(row) if row is not None else None


# -- campaigns ------------------------------------------------------------------------------------------


def campaigns_query(account: str, *, include_deleted: bool = True) -> Select[Any]:
    query = select(Campaign).options(defer(Campaign.raw, raiseload=True)).where(Campaign.account == account)
    return query if include_deleted else query.where(Campaign.deleted_at.is_(None))


# -- people links (recurring plans and registrations) ---------------------------------------------------


def _supporter_contact_id(account: Any, supporter_id: Any) -> ColumnElement[Any]:
    """The contact of a Classy supporter: by its email, or by its id when it has none (as donations)."""
    s, by_email, by_id = aliased(Supporter), aliased(Contact), aliased(Contact)
    email_match = (
        select(by_email.id)
        .join_from(s, by_email, (by_email.account == s.account) & (by_email.email_lower == s.email_lower))
        .where(s.account == account, s.classy_id == supporter_id)
        .limit(1)
        .scalar_subquery()
    )
    id_match = (
        select(by_id.id)
        .where(
            by_id.account == account, by_id.email_lower.is_(None), by_id.classy_supporter_id == supporter_id
        )
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(email_match, id_match)


@cache
def _plan_contact_id() -> ColumnElement[Any]:
    return _supporter_contact_id(RecurringPlan.account, RecurringPlan.classy_supporter_id)


@cache
def _registration_contact_id() -> ColumnElement[Any]:
    by_own_email = (
        select(Contact.id)
        .where(Contact.account == Registration.account, Contact.email_lower == Registration.email_lower)
        .scalar_subquery()
    )
    return func.coalesce(_supporter_contact_id(Registration.account, Registration.supporter_id), by_own_email)


async def _contact_keys(
    session: AsyncSession, account: str, contact_id: int
) -> tuple[str | None, int | None] | None:
    row = (
        await session.execute(
            select(Contact.email_lower, Contact.classy_supporter_id).where(
                Contact.account == account, Contact.id == contact_id
            )
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


def _supporters_of(account: str, email_lower: str | None, supporter_id: int | None) -> Select[Any]:
    """Classy ids of the supporters a contact was merged from."""
    match = (
        Supporter.email_lower == email_lower
        if email_lower is not None
        else Supporter.classy_id == supporter_id
    )
    return select(Supporter.classy_id).where(Supporter.account == account, match)


async def recurring_plans_query(
    session: AsyncSession,
    account: str,
    *,
    contact_id: int | None = None,
    status: str | None = None,
    include_deleted: bool = True,
) -> Select[Any]:
    """Plans with their contact; a `contact_id` filter first narrows to that person's supporters."""
    contact = _plan_contact_id()
    query = (
        select(RecurringPlan, contact.label("contact_id"))
        .options(defer(RecurringPlan.raw, raiseload=True))
        .where(RecurringPlan.account == account)
    )
    if not include_deleted:
        query = query.where(RecurringPlan.deleted_at.is_(None))
    if status is not None:
        query = query.where(RecurringPlan.status == status)
    if contact_id is not None:
        keys = await _contact_keys(session, account, contact_id)
        if keys is None:
            return query.where(false())
        query = query.where(
            RecurringPlan.classy_supporter_id.in_(_supporters_of(account, *keys)), contact == contact_id
        )
    return query


def plan_row(row: Row[Any]) -> RecurringPlanRow:
    values: tuple[Any, ...] = tuple(row)
    return RecurringPlanRow(*values)


async def registrations_query(
    session: AsyncSession,
    account: str,
    *,
    contact_id: int | None = None,
    classy_campaign_id: int | None = None,
    status: str | None = None,
    include_deleted: bool = True,
) -> Select[Any]:
    """Registrations with their contact and campaign name."""
    contact = _registration_contact_id()
    campaign_name = (
        select(Campaign.name)
        .where(Campaign.account == Registration.account, Campaign.classy_id == Registration.campaign_id)
        .scalar_subquery()
    )
    query = (
        select(Registration, contact.label("contact_id"), campaign_name.label("campaign_name"))
        .options(defer(Registration.raw, raiseload=True))
        .where(Registration.account == account)
    )
    if not include_deleted:
        query = query.where(Registration.deleted_at.is_(None))
    if status is not None:
        query = query.where(Registration.status == status)
    if classy_campaign_id is not None:
        query = query.where(Registration.campaign_id == classy_campaign_id)
    if contact_id is not None:
        keys = await _contact_keys(session, account, contact_id)
        if keys is None:
            return query.where(false())
        email_lower, _ = keys
        candidates: ColumnElement[bool] = Registration.supporter_id.in_(_supporters_of(account, *keys))
        if email_lower is not None:
            candidates = or_(candidates, Registration.email_lower == email_lower)
        query = query.where(candidates, contact == contact_id)
    return query


def registration_row(row: Row[Any]) -> RegistrationRow:
    values: tuple[Any, ...] = tuple(row)
    return RegistrationRow(*values)
