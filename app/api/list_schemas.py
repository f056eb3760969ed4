"""Response bodies of the campaign, recurring-plan and registration lists (names fixed by API.md).

One `of` per type turns a stored row into its API representation; the CSV export and the change feed
use the same functions, so every surface shows a record the same way.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from app.api.data_schemas import money
from app.api.pagination import ItemPage
from app.db.models import Campaign
from app.db.repositories.synced_data import RecurringPlanRow, RegistrationRow


class CampaignOut(BaseModel):
    id: int
    classy_campaign_id: int
    name: str | None
    type: str | None = Field(description="Classy's: donation, peer_to_peer, ticketed, …")
    status: str | None = Field(description="Classy's: active, deactivated, draft, unpublished.")
    goal: str | None = Field(description="A decimal string.", examples=["50000.00"])
    currency: str | None
    started_at: datetime | None
    ended_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None
    deleted_at: datetime | None = Field(description="When a reconcile found it gone from Classy.")

    @classmethod
    def of(cls, campaign: Campaign) -> CampaignOut:
        return cls(
            id=campaign.id,
            classy_campaign_id=campaign.classy_id,
            name=campaign.name,
            type=campaign.type,
            status=campaign.status,
            goal=money(campaign.goal),
            currency=campaign.currency,
            started_at=campaign.started_at,
            ended_at=campaign.ended_at,
            created_at=campaign.classy_created_at,
            updated_at=campaign.classy_updated_at,
            deleted_at=campaign.deleted_at,
        )


class RecurringPlanOut(BaseModel):
    id: int
    classy_recurring_plan_id: int
    contact_id: int | None = Field(description="The contact of the plan's supporter.")
    classy_campaign_id: int | None
    status: str | None = Field(description="Classy's: active, paused, canceled, …")
    frequency: str | None
    amount: str | None = Field(description="Classy donation_amount, a decimal string.")
    currency: str | None
    next_charge_on: date | None = Field(description="Classy next_processing_date.")
    started_at: datetime | None
    canceled_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None
    deleted_at: datetime | None = Field(description="When a reconcile found it gone from Classy.")

    @classmethod
    def of(cls, row: RecurringPlanRow) -> RecurringPlanOut:
        plan = row.plan
        return cls(
            id=plan.id,
            classy_recurring_plan_id=plan.classy_id,
            contact_id=row.contact_id,
            classy_campaign_id=plan.classy_campaign_id,
            status=plan.status,
            frequency=plan.frequency,
            amount=money(plan.amount),
            currency=plan.currency,
            next_charge_on=plan.next_charge_on,
            started_at=plan.started_at,
            canceled_at=plan.canceled_at,
            created_at=plan.classy_created_at,
            updated_at=plan.classy_updated_at,
            deleted_at=plan.deleted_at,
        )


class RegistrationOut(BaseModel):
    id: int
    classy_registration_id: int
    contact_id: int | None = Field(description="The registrant's contact.")
    classy_campaign_id: int | None
    campaign_name: str | None
    ticket_name: str | None = Field(description="Classy product_name (the ticket type).")
    status: str | None = Field(description="attending, not_attending or archived.")
    classy_transaction_id: int | None
    created_at: datetime | None
    updated_at: datetime | None
    deleted_at: datetime | None = Field(description="When a reconcile found it gone from Classy.")

    @classmethod
    def of(cls, row: RegistrationRow) -> RegistrationOut:
        registration = row.registration
        return cls(
            id=registration.id,
            classy_registration_id=registration.classy_id,
            contact_id=row.contact_id,
            classy_campaign_id=registration.campaign_id,
            campaign_name=row.campaign_name,
            ticket_name=registration.ticket_name,
            status=registration.status,
            classy_transaction_id=registration.transaction_id,
            created_at=registration.classy_created_at,
            updated_at=registration.classy_updated_at,
            deleted_at=registration.deleted_at,
        )


class CampaignPage(ItemPage[CampaignOut]):
    pass


class RecurringPlanPage(ItemPage[RecurringPlanOut]):
    pass


class RegistrationPage(ItemPage[RegistrationOut]):
    pass
