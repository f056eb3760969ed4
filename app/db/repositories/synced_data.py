"""Reads of synced contacts and donations for the API: tenant-scoped, keyset-paginated by id.

Lists leave out rows marked deleted unless asked (`include_deleted`); reads by id always find them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Campaign, Contact, Donation


@dataclass(frozen=True)
class DonationRow:
    donation: Donation
    campaign_name: str | None


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
    query = select(Contact).where(Contact.account == account)
    if not include_deleted:
        query = query.where(Contact.deleted_at.is_(None))
    if email is not None:
        query = query.where(Contact.email_lower == email.strip().lower())
    if updated_since is not None:
        query = query.where(func.coalesce(Contact.classy_updated_at, Contact.updated_at) >= updated_since)
    if after_id is not None:
        query = query.where(Contact.id > after_id)
    return (await session.execute(query.order_by(Contact.id).limit(limit))).scalars().all()


async def get_contact(session: AsyncSession, *, account: str, contact_id: int) -> Contact | None:
    query = select(Contact).where(Contact.account == account, Contact.id == contact_id)
    return (await session.execute(query)).scalar_one_or_none()


def _donations_query(account: str) -> Select[Any]:
    campaign_name = (
        select(Campaign.name)
        .where(Campaign.account == Donation.account, Campaign.classy_id == Donation.classy_campaign_id)
        .scalar_subquery()
    )
    return select(Donation, campaign_name.label("campaign_name")).where(Donation.account == account)


async def list_donations(
    session: AsyncSession,
    *,
    account: str,
    after_id: int | None,
    limit: int,
    contact_id: int | None = None,
    status: str | None = None,
    updated_since: datetime | None = None,
    include_deleted: bool = False,
) -> list[DonationRow]:
    query = _donations_query(account)
    if not include_deleted:
        query = query.where(Donation.deleted_at.is_(None))
    if contact_id is not None:
        query = query.where(Donation.contact_id == contact_id)
    if status is not None:
        query = query.where(Donation.status == status)
    if updated_since is not None:
        query = query.where(func.coalesce(Donation.updated_at, Donation.created_at) >= updated_since)
    if after_id is not None:
        query = query.where(Donation.id > after_id)
    rows = await session.execute(query.order_by(Donation.id).limit(limit))
    return [DonationRow(row[0], row[1]) for row in rows]


async def get_donation(session: AsyncSession, *, account: str, donation_id: int) -> DonationRow | None:
    row = (await session.execute(_donations_query(account).where(Donation.id == donation_id))).first()
    return DonationRow(row[0], row[1]) if row is not None else None
