"""Records synced from Classy, one row per (account, Classy id): the natural key of every upsert.

Mapped columns hold what the API exposes; `raw` keeps Classy's whole payload so nothing is lost and a
later mapping change can be replayed without refetching.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, Identity, Index, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.models._types import (
    ClassyId,
    Money,
    OptionalClassyId,
    OptionalText,
    OptionalTimestamp,
    UpdatedAt,
)


class _ClassyRecord:
    """Columns every synced record has."""

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    account: Mapped[str] = mapped_column(Text, nullable=False)
    classy_id: Mapped[ClassyId]
    organization_id: Mapped[ClassyId]
    classy_created_at: Mapped[OptionalTimestamp]
    classy_updated_at: Mapped[OptionalTimestamp]
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    synced_at: Mapped[UpdatedAt]
    # Set by a reconcile when Classy no longer returns the record; cleared when it reappears.
    deleted_at: Mapped[OptionalTimestamp]


class _Person:
    """Contact columns shared by supporters and registrants."""

    first_name: Mapped[OptionalText]
    last_name: Mapped[OptionalText]
    email: Mapped[OptionalText]
    email_lower: Mapped[OptionalText]
    phone: Mapped[OptionalText]
    address1: Mapped[OptionalText]
    address2: Mapped[OptionalText]
    city: Mapped[OptionalText]
    state: Mapped[OptionalText]
    postal_code: Mapped[OptionalText]
    country: Mapped[OptionalText]


class Supporter(_ClassyRecord, _Person, Base):
    """A Classy supporter (the organization's donor profile)."""

    __tablename__ = "supporter"
    __table_args__ = (
        UniqueConstraint("account", "classy_id"),
        Index("ix_supporter_account_email_lower", "account", "email_lower"),
    )

    member_id: Mapped[OptionalClassyId]
    email_opt_in: Mapped[bool | None] = mapped_column(Boolean)
    cell_phone: Mapped[OptionalText]


class Registration(_ClassyRecord, _Person, Base):
    """A Classy event registration (attendee)."""

    __tablename__ = "registration"
    __table_args__ = (
        UniqueConstraint("account", "classy_id"),
        Index("ix_registration_account_email_lower", "account", "email_lower"),
    )

    campaign_id: Mapped[OptionalClassyId]
    supporter_id: Mapped[OptionalClassyId]
    transaction_id: Mapped[OptionalClassyId]
    status: Mapped[OptionalText]
    ticket_name: Mapped[OptionalText]
    company: Mapped[OptionalText]
    cell_phone: Mapped[OptionalText]


class Donation(_Person, Base):
    """A Classy transaction, whatever its status (a refund updates the same row)."""

    __tablename__ = "donation"
    __table_args__ = (
        UniqueConstraint("account", "classy_transaction_id"),
        Index("ix_donation_account_supporter", "account", "classy_supporter_id"),
        Index("ix_donation_account_email_lower", "account", "email_lower"),
        Index("ix_donation_account_contact", "account", "contact_id"),
        Index("ix_donation_account_recurring_plan", "account", "classy_recurring_plan_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    account: Mapped[str] = mapped_column(Text, nullable=False)
    classy_transaction_id: Mapped[ClassyId]
    organization_id: Mapped[ClassyId]
    contact_id: Mapped[OptionalClassyId]
    classy_supporter_id: Mapped[OptionalClassyId]
    classy_campaign_id: Mapped[OptionalClassyId]
    classy_recurring_plan_id: Mapped[OptionalClassyId]
    amount: Mapped[Money]
    total_amount: Mapped[Money]
    fee_amount: Mapped[Money]
    net_amount: Mapped[Money]
    currency: Mapped[OptionalText]
    status: Mapped[OptionalText]
    frequency: Mapped[OptionalText]
    is_anonymous: Mapped[bool | None] = mapped_column(Boolean)
    purchased_at: Mapped[OptionalTimestamp]
    refunded_at: Mapped[OptionalTimestamp]
    created_at: Mapped[OptionalTimestamp]
    updated_at: Mapped[OptionalTimestamp]
    # The purchaser's person columns (from _Person) link it to a contact when it has no supporter.
    email_opt_in: Mapped[bool | None] = mapped_column(Boolean)
    cell_phone: Mapped[OptionalText]
    sms_opt_in: Mapped[bool | None] = mapped_column(Boolean)
    items: Mapped[list[Any] | None] = mapped_column(JSONB)
    # Issue #11: what the gift is (from its items), where it went, how it was paid, whom it honours.
    kind: Mapped[OptionalText]
    designation_id: Mapped[OptionalClassyId]
    classy_fundraising_page_id: Mapped[OptionalClassyId]
    classy_fundraising_team_id: Mapped[OptionalClassyId]
    payment_type: Mapped[OptionalText]
    payment_method: Mapped[OptionalText]
    card_type: Mapped[OptionalText]
    card_last_four: Mapped[OptionalText]
    donor_covered_fees: Mapped[bool | None] = mapped_column(Boolean)
    classy_fees_amount: Mapped[Money]
    processor_fees_amount: Mapped[Money]
    raw_currency: Mapped[OptionalText]
    raw_amount: Mapped[Money]
    company_name: Mapped[OptionalText]
    hide_amount: Mapped[bool | None] = mapped_column(Boolean)
    comment: Mapped[OptionalText]
    dedication: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    synced_at: Mapped[UpdatedAt]
    deleted_at: Mapped[OptionalTimestamp]


class Campaign(_ClassyRecord, Base):
    """A Classy campaign (donations carry its id; the API shows its name)."""

    __tablename__ = "campaign"
    __table_args__ = (UniqueConstraint("account", "classy_id"),)

    name: Mapped[OptionalText]
    type: Mapped[OptionalText]
    status: Mapped[OptionalText]
    goal: Mapped[Money]
    currency: Mapped[OptionalText]
    started_at: Mapped[OptionalTimestamp]
    ended_at: Mapped[OptionalTimestamp]


class RecurringPlan(_ClassyRecord, Base):
    """A Classy recurring donation plan."""

    __tablename__ = "recurring_plan"
    __table_args__ = (
        UniqueConstraint("account", "classy_id"),
        Index("ix_recurring_plan_account_supporter", "account", "classy_supporter_id"),
    )

    classy_supporter_id: Mapped[OptionalClassyId]
    classy_campaign_id: Mapped[OptionalClassyId]
    status: Mapped[OptionalText]
    frequency: Mapped[OptionalText]
    amount: Mapped[Money]
    currency: Mapped[OptionalText]
    started_at: Mapped[OptionalTimestamp]
    canceled_at: Mapped[OptionalTimestamp]
    next_charge_on: Mapped[date | None] = mapped_column(Date)


class Designation(_ClassyRecord, Base):
    """A Classy designation (fund or program); donations carry its id, the API shows its name."""

    __tablename__ = "designation"
    __table_args__ = (UniqueConstraint("account", "classy_id"),)

    name: Mapped[OptionalText]
    is_active: Mapped[bool | None] = mapped_column(Boolean)


class FundraisingPage(_ClassyRecord, Base):
    """A Classy peer-to-peer fundraising page; donations carry its id, the API shows its title."""

    __tablename__ = "fundraising_page"
    __table_args__ = (UniqueConstraint("account", "classy_id"),)

    title: Mapped[OptionalText]
    status: Mapped[OptionalText]
    classy_campaign_id: Mapped[OptionalClassyId]
    classy_fundraising_team_id: Mapped[OptionalClassyId]


class FundraisingTeam(_ClassyRecord, Base):
    """A Classy fundraising team; donations carry its id, the API shows its name."""

    __tablename__ = "fundraising_team"
    __table_args__ = (UniqueConstraint("account", "classy_id"),)

    name: Mapped[OptionalText]
    status: Mapped[OptionalText]
    classy_campaign_id: Mapped[OptionalClassyId]
