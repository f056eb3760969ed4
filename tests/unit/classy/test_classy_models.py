"""Models: exact money, every timestamp form, unknown fields and the raw payload kept."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import orjson
import pytest
from pydantic import ValidationError

from app.classy import (
    Campaign,
    Designation,
    Organization,
    RecurringDonationPlan,
    Registration,
    Supporter,
    Transaction,
    parse_date,
    parse_local_datetime,
    parse_timestamp,
)

TRANSACTION_JSON = b"""{"id": 8734, "organization_id": 82364, "campaign_id": 227362, "supporter_id": 5827,
 "member_id": 2012, "status": "success", "frequency": "one-time", "currency_code": "USD",
 "total_gross_amount": 52.5, "donation_gross_amount": 50.0, "donation_net_amount": 48.25, "fees_amount": 1.75,
 "raw_total_gross_amount": "52.50", "charged_total_gross_amount": 52.5, "is_donor_covered_fee": true,
 "card_last_four": 4242, "applied_fot_percent": "5.00",
 "consent": {"email_opt_in": true, "email_consent_decision_date": "2024-06-01T12:00:00+0000",
             "sms_opt_in": null, "sms_consent_decision_date": null},
 "context": {"source_campaign_id": 227362, "source_campaign_type": "donation", "is_passport": true},
 "purchased_at": "2024-06-01T12:00:00+0000", "refunded_at": null,
 "created_at": "2024-06-01T12:00:00Z", "updated_at": null,
 "receipt_serial": "R-1",
 "items": [{"id": 17020, "transaction_id": 8734, "type": "donation", "product_name": "Donation",
            "quantity": 1, "price": 0, "final_price": 50.0, "donation_net_amount": 48.25, "fees_amount": 1.75,
            "overhead_amount": 0, "campaign_id": 227362, "designation_id": 34672, "product_id": null,
            "charged_final_price": 0.1}]}"""

NOON = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def test_transaction_from_classy_json() -> None:
    payload = orjson.loads(TRANSACTION_JSON)
    txn = Transaction.model_validate(payload)
    assert txn.id == 8734
    assert txn.total_gross_amount == Decimal("52.5")
    assert str(txn.total_gross_amount) == "52.5"
    assert str(txn.raw_total_gross_amount) == "52.50"
    assert txn.fees_amount == Decimal("1.75")
    assert txn.applied_fot_percent == Decimal("5.00")
    assert txn.purchased_at == NOON and txn.created_at == NOON
    assert txn.updated_at is None and txn.refunded_at is None
    assert txn.consent is not None and txn.consent.email_consent_decision_date == NOON
    assert txn.context == {
        "source_campaign_id": 227362,
        "source_campaign_type": "donation",
        "is_passport": True,
    }
    assert txn.items is not None and len(txn.items) == 1
    item = txn.items[0]
    assert item.final_price == Decimal("50") and item.price == Decimal(0)
    assert str(item.charged_final_price) == "0.1"
    assert item.product_id is None


def test_unknown_fields_and_raw_payload_are_kept() -> None:
    payload = orjson.loads(TRANSACTION_JSON)
    txn = Transaction.model_validate(payload)
    assert txn.model_extra is not None and txn.model_extra["receipt_serial"] == "R-1"
    assert txn.raw is payload
    assert txn.items is not None and txn.items[0].raw["type"] == "donation"
    supporter = Supporter(id=1, brand_new="x")
    assert supporter.model_extra == {"brand_new": "x"}
    assert supporter.raw == {"id": 1, "brand_new": "x"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (52.5, "52.5"),
        ("52.50", "52.50"),
        (" 7 ", "7"),
        (0.1 + 0.2, "0.30000000000000004"),  # shortest repr, never 0.3000000000000000444089…
        (0.1, "0.1"),
        (1e16, "1E+16"),
        (100, "100"),
        ("50000.000", "50000.000"),
        ("1000.0", "1000.0"),
    ],
)
def test_money_is_exact_decimal(value: object, expected: str) -> None:
    campaign = Campaign.model_validate({"id": 1, "goal": value})
    assert isinstance(campaign.goal, Decimal)
    assert str(campaign.goal) == expected


def test_money_from_json_text_has_no_float_artifacts() -> None:
    txn = Transaction.model_validate(
        orjson.loads(b'{"id": 1, "total_gross_amount": 0.1, "fees_amount": 19.99}')
    )
    assert txn.total_gross_amount == Decimal("0.1")
    assert txn.fees_amount == Decimal("19.99")


@pytest.mark.parametrize("value", [True, "abc", float("nan"), "Infinity", [1]])
def test_money_rejects_non_amounts(value: object) -> None:
    with pytest.raises(ValidationError):
        Campaign.model_validate({"id": 1, "goal": value})


def test_blank_money_and_times_become_none() -> None:
    campaign = Campaign.model_validate({"id": 1, "goal": "", "raw_goal": None, "ended_at": ""})
    assert campaign.goal is None and campaign.raw_goal is None and campaign.ended_at is None


@pytest.mark.parametrize(
    "text",
    [
        "2024-05-15T16:44:19+0000",
        "2024-05-15T16:44:19Z",
        "2024-05-15T16:44:19.000Z",
        "2024-05-15T16:44:19+00:00",
        "2024-05-15T18:44:19+0200",
        "2024-05-15T16:44:19",
        "2024-05-15 16:44:19",
    ],
)
def test_parse_timestamp_forms(text: str) -> None:
    parsed = parse_timestamp(text)
    assert parsed == datetime(2024, 5, 15, 16, 44, 19, tzinfo=UTC)
    assert parsed.utcoffset() is not None and parsed.tzinfo is UTC


def test_parse_timestamp_keeps_milliseconds() -> None:
    assert parse_timestamp("2024-05-15T16:44:19.123Z").microsecond == 123000


@pytest.mark.parametrize("text", ["2024-05-15", "yesterday", "15/05/2024 16:44", ""])
def test_parse_timestamp_rejects_other_strings(text: str) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(text)


def test_dates_and_designation_times() -> None:
    assert parse_date("2024-07-15") == date(2024, 7, 15)
    assert parse_local_datetime("2021-04-23 08:23:21") == datetime(2021, 4, 23, 8, 23, 21)
    plan = RecurringDonationPlan.model_validate(
        {
            "id": 85456,
            "donation_amount": 25.0,
            "raw_donation_amount": "25.00",
            "next_processing_date": "2024-07-15",
            "recur_until": None,
            "started_at": "2024-01-15T12:00:00+0000",
            "cc_last_four": "0042",
        }
    )
    assert plan.next_processing_date == date(2024, 7, 15)
    assert plan.raw_donation_amount == Decimal("25.00") and plan.cc_last_four == "0042"
    designation = Designation.model_validate(
        {"id": 34672, "goal": "10000.0", "start_time": "2021-04-23 08:23:21", "end_time": None}
    )
    assert designation.start_time == datetime(2021, 4, 23, 8, 23, 21)
    assert designation.goal == Decimal("10000.0")


def test_other_models_parse_digest_examples() -> None:
    org = Organization.model_validate(
        {
            "id": 82364,
            "name": "Rescue All Animals",
            "flex_rate_percent": 0,
            "fixed_fot_percent": "5.00",
            "created_at": "2019-04-23T10:25:03+0000",
        }
    )
    assert org.fixed_fot_percent == Decimal("5.00") and org.created_at == datetime(
        2019, 4, 23, 10, 25, 3, tzinfo=UTC
    )
    reg = Registration.model_validate(
        {
            "id": 78345,
            "campaign_id": 227362,
            "supporter_id": None,
            "email": "kevin@example.com",
            "created_at": "2024-04-23T10:25:03+0000",
            "updated_at": "2024-04-23T10:25:03+0000",
        }
    )
    assert reg.email == "kevin@example.com" and reg.supporter_id is None
    supporter = Supporter.model_validate({"id": "5827", "opt_in": True, "metadata": {"a": 1}})
    assert supporter.id == 5827 and supporter.metadata == {"a": 1}
