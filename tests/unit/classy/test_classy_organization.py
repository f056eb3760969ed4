"""The organization model: exact money, every timestamp form, unknown fields and the raw payload kept."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest
from pydantic import ValidationError

from app.classy import Organization, parse_timestamp

ORGANIZATION_JSON = b"""{"id": 82364, "name": "Rescue All Animals", "flex_rate_percent": 0,
 "fixed_fot_percent": "5.00", "created_at": "2019-04-23T10:25:03+0000", "updated_at": null,
 "brand_new_field": {"a": 1}}"""


def test_organization_from_classy_json() -> None:
    payload = orjson.loads(ORGANIZATION_JSON)
    org = Organization.model_validate(payload)
    assert org.id == 82364 and org.name == "Rescue All Animals"
    assert org.fixed_fot_percent == Decimal("5.00") and str(org.fixed_fot_percent) == "5.00"
    assert org.flex_rate_percent == Decimal(0)
    assert org.created_at == datetime(2019, 4, 23, 10, 25, 3, tzinfo=UTC) and org.updated_at is None


def test_unknown_fields_and_raw_payload_are_kept() -> None:
    payload = orjson.loads(ORGANIZATION_JSON)
    org = Organization.model_validate(payload)
    assert org.model_extra == {"brand_new_field": {"a": 1}}
    assert org.raw is payload
    assert Organization(id=1, other="x").raw == {"id": 1, "other": "x"}


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
    ],
)
def test_money_is_exact_decimal(value: object, expected: str) -> None:
    org = Organization.model_validate({"id": 1, "flex_rate_percent": value})
    assert isinstance(org.flex_rate_percent, Decimal)
    assert str(org.flex_rate_percent) == expected


@pytest.mark.parametrize("value", [True, "abc", float("nan"), "Infinity", [1]])
def test_money_rejects_non_amounts(value: object) -> None:
    with pytest.raises(ValidationError):
        Organization.model_validate({"id": 1, "flex_rate_percent": value})


def test_blank_money_and_times_become_none() -> None:
    org = Organization.model_validate(
        {"id": 1, "flex_rate_percent": "", "created_at": "", "updated_at": "0000-00-00 00:00:00"}
    )
    assert org.flex_rate_percent is None and org.created_at is None and org.updated_at is None


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
