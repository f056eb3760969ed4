"""Response bodies of the synced-data endpoints (field names fixed by API.md, "Synced data")."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from app.db.models import Contact, Donation
from app.errors import AppError


class InvalidCursorError(AppError):
    status_code = 422
    code = "invalid_cursor"


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The id a page starts after; a cursor we did not issue is a 400 with a sentence."""
    if cursor is None or cursor == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = raw.partition(":")
        last_id = int(value)
        if prefix != "id" or not 0 <= last_id < 2**63:
            raise ValueError(raw)
        return last_id
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidCursorError("The cursor is not valid; pass the next_cursor of a previous page.") from exc


def money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


class ContactOut(BaseModel):
    id: int
    classy_supporter_id: int | None = Field(
        description="Null for a registrant or purchaser with no supporter."
    )
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    address1: str | None
    address2: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None
    email_opt_in: bool | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = Field(
        description="When every source of the contact left Classy; else null."
    )

    @classmethod
    def of(cls, contact: Contact) -> ContactOut:
        return cls(
            id=contact.id,
            classy_supporter_id=contact.classy_supporter_id,
            first_name=contact.first_name,
            last_name=contact.last_name,
            email=contact.email,
            phone=contact.phone,
            address1=contact.address1,
            address2=contact.address2,
            city=contact.city,
            state=contact.state,
            postal_code=contact.postal_code,
            country=contact.country,
            email_opt_in=contact.email_opt_in,
            created_at=contact.classy_created_at or contact.created_at,
            updated_at=contact.classy_updated_at or contact.updated_at,
            deleted_at=contact.deleted_at,
        )


class DonationOut(BaseModel):
    id: int
    classy_transaction_id: int
    contact_id: int | None
    classy_campaign_id: int | None
    campaign_name: str | None
    amount: str | None = Field(
        description="Classy donation_gross_amount, a decimal string.", examples=["52.50"]
    )
    total_amount: str | None = Field(description="Classy total_gross_amount.")
    fee_amount: str | None = Field(description="Classy fees_amount.")
    net_amount: str | None = Field(description="Classy donation_net_amount.")
    currency: str | None
    status: str | None = Field(description="Classy's transaction status: success, refunded, …")
    frequency: str | None
    classy_recurring_plan_id: int | None
    is_anonymous: bool | None
    purchased_at: datetime | None
    refunded_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None
    deleted_at: datetime | None = Field(
        description="When a reconcile found the transaction gone from Classy."
    )

    @classmethod
    def of(cls, donation: Donation, campaign_name: str | None) -> DonationOut:
        return cls(
            id=donation.id,
            classy_transaction_id=donation.classy_transaction_id,
            contact_id=donation.contact_id,
            classy_campaign_id=donation.classy_campaign_id,
            campaign_name=campaign_name,
            amount=money(donation.amount),
            total_amount=money(donation.total_amount),
            fee_amount=money(donation.fee_amount),
            net_amount=money(donation.net_amount),
            currency=donation.currency,
            status=donation.status,
            frequency=donation.frequency,
            classy_recurring_plan_id=donation.classy_recurring_plan_id,
            is_anonymous=donation.is_anonymous,
            purchased_at=donation.purchased_at,
            refunded_at=donation.refunded_at,
            created_at=donation.created_at,
            updated_at=donation.updated_at,
            deleted_at=donation.deleted_at,
        )


class ContactPage(BaseModel):
    items: list[ContactOut]
    next_cursor: str | None


class DonationPage(BaseModel):
    items: list[DonationOut]
    next_cursor: str | None
