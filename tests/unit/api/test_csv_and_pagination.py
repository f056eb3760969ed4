"""CSV cells (formula guard, JSON-equal text), headers with nested models, and the one cursor codec."""

from __future__ import annotations

import csv
import io

import pytest
from pydantic import BaseModel

from app.api.csv_export import _lines, cell, columns, flatten
from app.api.data_schemas import DonationOut
from app.api.pagination import build_page, decode_cursor, encode_cursor
from app.errors import AppError


@pytest.mark.parametrize("text", ["=1+1", "+33 6 x", "-A1", "@SUM(A1)", "\tx", "\rx", "+1+cmd|' /C calc'!A0"])
def test_formula_like_cells_get_a_quote(text: str) -> None:
    assert cell(text) == "'" + text


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, ""), (True, "true"), (False, "false"), ("52.50", "52.50"), (7, "7"), ("a'b", "a'b")],
)
def test_cells_are_the_json_values_as_text(value: object, expected: str) -> None:
    assert cell(value) == expected


@pytest.mark.parametrize(
    "number", ["-5.00", "-12", "-0.5", "+15550100", "+33 6 12 34 56 78", "+1 (555) 010-0100"]
)
def test_a_negative_number_or_a_phone_number_reads_back_as_the_same_text(number: str) -> None:
    assert cell(number) == number  # no spreadsheet runs a plain number or a phone number as a formula


@pytest.mark.parametrize("text", ["-5+cmd|' /C calc'!A0", "-1-1", "+", "+A1", "-5.00 ", "--5"])
def test_a_sign_followed_by_more_than_a_number_is_still_quoted(text: str) -> None:
    assert cell(text) == "'" + text


class Inner(BaseModel):
    a: str | None
    b: int | None


class Outer(BaseModel):
    id: int
    inner: Inner | None
    note: str | None


def test_nested_models_flatten_to_prefixed_columns_and_quote_per_rfc_4180() -> None:
    header = columns(Outer)
    assert header == ["id", "inner_a", "inner_b", "note"]
    rows = [
        flatten(Outer(id=1, inner=Inner(a='say "hi", ok', b=2), note="line\nbreak"), header),
        flatten(Outer(id=2, inner=None, note="=cmd"), header),
    ]
    text = _lines([header, *rows])
    assert text.endswith("\r\n") and '"say ""hi"", ok"' in text
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed == [header, ["1", 'say "hi", ok', "2", "line\nbreak"], ["2", "", "", "'=cmd"]]


def test_donation_header_has_dedication_columns_once() -> None:
    header = columns(DonationOut)
    assert len(header) == len(set(header))
    assert [h for h in header if h.startswith("dedication")] == [
        "dedication_type",
        "dedication_honoree_name",
        "dedication_name",
        "dedication_email_address",
    ]


def test_cursor_round_trip_and_page_builder() -> None:
    assert decode_cursor(encode_cursor(12345)) == 12345
    assert decode_cursor(None) is None and decode_cursor("") is None
    for bad in ["garbage!", encode_cursor(1)[:-1] + "@", "aWQ6eA", encode_cursor(10**19)]:
        with pytest.raises(AppError) as info:
            decode_cursor(bad)
        assert info.value.status_code == 422 and info.value.code == "invalid_cursor"
    full = build_page([1, 2, 3], 2, key=lambda n: n)
    assert list(full.items) == [1, 2] and decode_cursor(full.next_cursor) == 2
    last = build_page([1, 2], 2, key=lambda n: n)
    assert list(last.items) == [1, 2] and last.next_cursor is None
    assert build_page([], 2, key=lambda n: n).next_cursor is None
