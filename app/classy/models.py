"""Typed views of Classy records (CLASSY_API.md section 6), with field names exactly as Classy's.

The sync engine reads pages as raw dicts for speed and validates with these models when it wants
types. Unknown fields are kept (``extra="allow"``) because Classy adds fields without notice and
the CRM stores the full record; ``raw`` returns the payload exactly as received. Only the fields a
CRM sync relies on are declared; every declared field except ``id`` is optional, since the spec
marks most of them nullable and a missing optional field must not make a record unreadable.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ModelWrapValidatorHandler, PrivateAttr, model_validator

from .fields import DateOnly, LocalDateTime, Money, Timestamp


class ClassyModel(BaseModel):
    """Base for Classy records: keeps unknown fields and the raw payload."""

    model_config = ConfigDict(extra="allow")

    _raw: dict[str, Any] | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_raw(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        model = handler(data)
        if isinstance(data, dict):
            model._raw = data
        return model

    @property
    def raw(self) -> dict[str, Any]:
        """The payload as Classy sent it (the dict passed to ``model_validate``)."""
        if self._raw is not None:
            return self._raw
        return self.model_dump()


class Organization(ClassyModel):
    """A Classy organization (GET /organizations/{id})."""

    id: int
    name: str | None = None
    status: str | None = None
    type: str | None = None
    plan_type: str | None = None
    url: str | None = None
    mission: str | None = None
    description: str | None = None
    address: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    currency: str | None = None
    currency_code: str | None = None
    timezone_identifier: str | None = None
    flex_rate_percent: Money = None
    fixed_fot_percent: Money = None
    opt_in_wording: str | None = None
    sms_opt_in_text: str | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None


class Supporter(ClassyModel):
    """An organization's donor profile: the CRM contact."""

    id: int
    member_id: int | None = None
    first_name: str | None = None
    last_name: str | None = None
    nickname: str | None = None
    email_address: str | None = None
    phone: str | None = None
    cell_phone: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    location: str | None = None
    gender: str | None = None
    birthday: str | None = None  # "M/D", no year
    opt_in: bool | None = None
    origin: str | None = None
    source_organization_id: int | None = None
    source_campaign_id: int | None = None
    source_fundraising_page_id: int | None = None
    source_member_id: int | None = None
    last_emailed_at: Timestamp = None
    metadata: Any = None
    created_at: Timestamp = None
    updated_at: Timestamp = None


class TransactionItem(ClassyModel):
    """A line of a transaction (donation, ticket, product). Items have no timestamps."""

    id: int
    transaction_id: int | None = None
    organization_id: int | None = None
    campaign_id: int | None = None
    fundraising_page_id: int | None = None
    fundraising_team_id: int | None = None
    designation_id: int | None = None
    product_id: int | None = None
    commerce_order_item_id: str | int | None = None
    promo_code_id: int | None = None
    type: str | None = None
    product_name: str | None = None
    quantity: int | None = None
    currency_code: str | None = None
    raw_currency_code: str | None = None
    price: Money = None
    raw_price: Money = None
    final_price: Money = None
    raw_final_price: Money = None
    charged_final_price: Money = None
    overhead_amount: Money = None
    raw_overhead_amount: Money = None
    donation_gross_amount: Money = None
    raw_donation_gross_amount: Money = None
    donation_net_amount: Money = None
    fees_amount: Money = None
    charged_fees_amount: Money = None


class TransactionConsent(ClassyModel):
    """Email and SMS consent captured with a transaction (the Supporter has no SMS opt-in)."""

    email_opt_in: bool | None = None
    email_consent_decision_date: Timestamp = None
    sms_opt_in: bool | None = None
    sms_consent_decision_date: Timestamp = None


class Transaction(ClassyModel):
    """A donation or order. ``items`` is present only when requested with ``with=items``."""

    id: int
    organization_id: int | None = None
    campaign_id: int | None = None
    supporter_id: int | None = None
    member_id: int | None = None
    fundraising_page_id: int | None = None
    fundraising_team_id: int | None = None
    designation_id: int | None = None
    recurring_donation_plan_id: int | None = None
    parent_transaction_id: int | None = None
    donation_matching_plan_id: int | None = None
    tax_entity_id: int | None = None
    status: str | None = None
    frequency: str | None = None
    currency_code: str | None = None
    raw_currency_code: str | None = None
    charged_currency_code: str | None = None
    total_gross_amount: Money = None
    donation_gross_amount: Money = None
    donation_net_amount: Money = None
    fees_amount: Money = None
    classy_fees_amount: Money = None
    pp_fees_amount: Money = None
    processor_fee_amount: Money = None
    application_fee_amount: Money = None
    flex_rate_amount: Money = None
    overhead_net_amount: Money = None
    adjustment_amount: Money = None
    initial_gross_amount: Money = None
    raw_total_gross_amount: Money = None
    raw_donation_gross_amount: Money = None
    raw_adjustment_amount: Money = None
    raw_initial_gross_amount: Money = None
    raw_overhead_net_amount: Money = None
    raw_processor_fee_amount: Money = None
    raw_application_fee_amount: Money = None
    raw_flex_rate_amount: Money = None
    charged_total_gross_amount: Money = None
    charged_fees_amount: Money = None
    charged_classy_fees_amount: Money = None
    charged_pp_fees_amount: Money = None
    applied_fot_percent: Money = None
    applied_flex_rate_percent: Money = None
    applied_application_fee_percent: Money = None
    applied_processor_fee_percent: Money = None
    applied_raw_processor_fee_flat: Money = None
    fee_on_top: bool | None = None
    is_donor_covered_fee: bool | None = None
    payment_method: str | None = None
    payment_type: str | None = None
    payment_source: str | None = None
    payment_gateway: str | None = None
    card_type: str | None = None
    card_last_four: int | str | None = None
    card_expiration: str | None = None
    billing_first_name: str | None = None
    billing_last_name: str | None = None
    billing_address1: str | None = None
    billing_address2: str | None = None
    billing_city: str | None = None
    billing_state: str | None = None
    billing_postal_code: str | None = None
    billing_country: str | None = None
    member_name: str | None = None
    member_email_address: str | None = None
    member_phone: str | None = None
    member_cell_phone: str | None = None
    member_country: str | None = None
    company_name: str | None = None
    is_anonymous: bool | None = None
    hide_amount: bool | None = None
    is_gift_aid: bool | None = None
    is_reprocess: bool | None = None
    comment: str | None = None
    in_honor_of: str | None = None
    promo_code_code: str | None = None
    metadata: Any = None
    consent: TransactionConsent | None = None
    context: dict[str, Any] | None = None
    utm: dict[str, Any] | None = None
    items: list[TransactionItem] | None = None
    purchased_at: Timestamp = None
    charged_at: Timestamp = None
    refunded_at: Timestamp = None
    created_at: Timestamp = None
    updated_at: Timestamp = None  # nullable in the spec: such rows need a periodic full pass


class Registration(ClassyModel):
    """An event registrant or attendee. Note the email field is ``email``, not ``email_address``."""

    id: int
    campaign_id: int | None = None
    attendee_id: int | None = None
    supporter_id: int | None = None
    member_id: int | None = None
    transaction_id: int | None = None
    transaction_item_id: int | None = None
    fundraising_page_id: int | None = None
    commitment_id: int | None = None
    status: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    cell: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    company: str | None = None
    gender: str | None = None
    date_of_birth: str | None = None  # format unconfirmed (spec says date-time); kept verbatim
    tshirt_size: str | None = None
    product_name: str | None = None
    transaction_payment_type: str | None = None
    transaction_last_four: int | str | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None


class RecurringDonationPlan(ClassyModel):
    """A recurring donation schedule."""

    id: int
    organization_id: int | None = None
    campaign_id: int | None = None
    supporter_id: int | None = None
    member_id: int | None = None
    fundraising_page_id: int | None = None
    fundraising_team_id: int | None = None
    designation_id: int | None = None
    status: str | None = None
    frequency: str | None = None
    donation_amount: Money = None
    raw_donation_amount: Money = None
    raw_initial_gross_amount: Money = None
    raw_adjustment_amount: Money = None
    applied_fot_percent: Money = None
    effective_fixed_fot_percent: Money = None
    currency_code: str | None = None
    raw_currency_code: str | None = None
    started_at: Timestamp = None
    next_processing_date: DateOnly = None
    recur_until: DateOnly = None
    pause_until: DateOnly = None
    schedule: dict[str, Any] | None = None
    timezone_identifier: str | None = None
    canceled_at: Timestamp = None
    cancel_by: str | None = None
    cancel_reason_code: str | None = None
    cancel_reason_text: str | None = None
    failed_at: Timestamp = None
    is_paused: bool | None = None
    first_name: str | None = None
    last_name: str | None = None
    company_name: str | None = None
    address: str | None = None
    address2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    payment_type: str | None = None
    cc_type: str | None = None
    cc_last_four: str | int | None = None
    ach_last_four: str | int | None = None
    is_anonymous: bool | None = None
    hide_amount: bool | None = None
    fee_on_top: bool | None = None
    metadata: Any = None
    created_at: Timestamp = None
    updated_at: Timestamp = None


class Campaign(ClassyModel):
    """A campaign (about 100 fields in Classy, mostly settings; the rest are kept as extras)."""

    id: int
    organization_id: int | None = None
    designation_id: int | None = None
    external_id: str | None = None
    name: str | None = None
    internal_name: str | None = None
    type: str | None = None
    status: str | None = None
    goal: Money = None
    raw_goal: Money = None
    currency_code: str | None = None
    raw_currency_code: str | None = None
    started_at: Timestamp = None
    ended_at: Timestamp = None
    timezone_identifier: str | None = None
    venue: str | None = None
    address1: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    contact_email: str | None = None
    canonical_url: str | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None


class Designation(ClassyModel):
    """A fund or program. ``start_time``/``end_time`` carry no zone and stay naive."""

    id: int
    organization_id: int | None = None
    name: str | None = None
    description: str | None = None
    goal: Money = None
    external_reference_id: str | None = None
    is_active: bool | None = None
    is_complete: bool | None = None
    is_default: bool | None = None
    start_time: LocalDateTime = None
    end_time: LocalDateTime = None
    created_at: Timestamp = None
    updated_at: Timestamp = None
