"""Response bodies of the synced-data endpoints (field names fixed by API.md, "Synced data")."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.api.pagination import InvalidCursorError, ItemPage, decode_cursor, encode_cursor
from app.db.models import Contact, Donation

__all__ = ["InvalidCursorError", "decode_cursor", "encode_cursor"]  # moved to app.api.pagination


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
    company: str | None
    cell_phone: str | None
    sms_opt_in: bool | None = Field(description="SMS consent, from the person's latest Classy transaction.")
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
            company=contact.company,
            cell_phone=contact.cell_phone,
            sms_opt_in=contact.sms_opt_in,
            deleted_at=contact.deleted_at,
        )


class DedicationOut(BaseModel):
    """A gift in honor or memory of someone (Classy's names): the person honoured, and whom to notify."""

    type: Literal["honor", "memory"] | None
    honoree_name: str | None
    name: str | None
    email_address: str | None

    @classmethod
    def of(cls, value: dict[str, Any] | None) -> DedicationOut | None:
        if not isinstance(value, dict):
            return None
        kind = value.get("type")
        return cls(
            type=kind if kind in ("honor", "memory") else None,
            honoree_name=value.get("honoree_name"),
            name=value.get("name"),
            email_address=value.get("email_address"),
        )


_KINDS = ("donation", "ticket", "registration", "offline_donation", "other")
DonationKind = Literal["donation", "ticket", "registration", "offline_donation", "other"]


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
    classy_organization_id: int
    classy_supporter_id: int | None
    kind: DonationKind | None = Field(description="From the transaction's items (API.md, Donation).")
    designation_id: int | None = Field(description="Classy designation (fund) id.")
    designation_name: str | None
    classy_fundraising_page_id: int | None
    fundraising_page_title: str | None
    classy_fundraising_team_id: int | None
    fundraising_team_name: str | None
    payment_type: str | None = Field(description="Classy's: Credit Card, ACH, PayPal, …")
    payment_method: str | None
    card_type: str | None
    card_last_four: str | None = Field(description="4 digits or null; nothing more of a card is stored.")
    donor_covered_fees: bool | None
    classy_fees_amount: str | None
    processor_fees_amount: str | None
    raw_currency: str | None
    raw_amount: str | None = Field(description="Classy raw_donation_gross_amount, in raw_currency.")
    company_name: str | None
    hide_amount: bool | None
    comment: str | None
    dedication: DedicationOut | None
    deleted_at: datetime | None = Field(
        description="When a reconcile found the transaction gone from Classy."
    )

    @classmethod
    def of(
        cls,
        donation: Donation,
        campaign_name: str | None = None,
        designation_name: str | None = None,
        fundraising_page_title: str | None = None,
        fundraising_team_name: str | None = None,
    ) -> DonationOut:
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
            classy_organization_id=donation.organization_id,
            classy_supporter_id=donation.classy_supporter_id,
            kind=donation.kind if donation.kind in _KINDS else None,
            designation_id=donation.designation_id,
            designation_name=designation_name,
            classy_fundraising_page_id=donation.classy_fundraising_page_id,
            fundraising_page_title=fundraising_page_title,
            classy_fundraising_team_id=donation.classy_fundraising_team_id,
            fundraising_team_name=fundraising_team_name,
            payment_type=donation.payment_type,
            payment_method=donation.payment_method,
            card_type=donation.card_type,
            card_last_four=donation.card_last_four,
            donor_covered_fees=donation.donor_covered_fees,
            classy_fees_amount=money(donation.classy_fees_amount),
            processor_fees_amount=money(donation.processor_fees_amount),
            raw_currency=donation.raw_currency,
            raw_amount=money(donation.raw_amount),
            company_name=donation.company_name,
            hide_amount=donation.hide_amount,
            comment=donation.comment,
            dedication=DedicationOut.of(donation.dedication),
            deleted_at=donation.deleted_at,
        )


class ContactPage(ItemPage[ContactOut]):
    pass


class DonationPage(ItemPage[DonationOut]):
    pass
