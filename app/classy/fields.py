"""Pydantic field types for Classy payloads: money as Decimal, times as aware UTC datetimes.

Classy sends amounts as JSON numbers (``52.5``) or strings (``"50000.000"``). A float must never
reach a money column as binary (``Decimal(0.1)`` is 0.1000000000000000055…), so numbers are
converted through their shortest text form, ``repr(float)``, which is the digits Classy wrote.
All types here are nullable: the spec marks most fields nullable and a sync must not drop a
record because an optional amount is missing or blank.
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import BeforeValidator

from .timestamps import is_blank, parse_timestamp


def to_decimal(value: object) -> Decimal | None:
    """Convert a Classy amount (number or numeric string) to an exact Decimal."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("a boolean is not an amount")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        return Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("an amount must be a finite number")
        return Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"not an amount: {value!r}") from None
    else:
        raise ValueError(f"not an amount: {type(value).__name__}")
    if not result.is_finite():
        raise ValueError("an amount must be a finite number")
    return result


def to_utc_datetime(value: object) -> datetime | None:
    """Convert a Classy timestamp string (or datetime) to an aware UTC datetime."""
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return None if is_blank(value) else parse_timestamp(value)
    raise ValueError(f"not a timestamp: {type(value).__name__}")


Money = Annotated[Decimal | None, BeforeValidator(to_decimal)]
Timestamp = Annotated[datetime | None, BeforeValidator(to_utc_datetime)]
