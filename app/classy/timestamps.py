"""Parse the date and time formats Classy sends.

Classy is inconsistent (CLASSY_API.md 6.2): most timestamps are ``2024-05-15T16:44:19+0000``, some
spec examples use ``2021-04-23T08:23:21Z``, the spec text promises ``…T…:ss.sssZ``, and other
APIs in the same family emit ``+00:00``. Every one of them becomes an aware UTC datetime so that
comparisons and database writes never mix naive and aware values. Two field kinds differ: plan
dates (``next_processing_date``) are plain dates, and Designation ``start_time``/``end_time`` are
``YYYY-MM-DD HH:MM:SS`` with no zone, which we keep naive rather than invent one.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

_TIMESTAMP = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}$")

# MySQL's "zero date" is how some PHP backends spell "no value"; treat it as missing.
_ZERO_PREFIX = "0000-00-00"


def parse_timestamp(value: str) -> datetime:
    """Parse any of Classy's timestamp forms into an aware UTC datetime.

    A timestamp without an offset is read as UTC, which is what Classy documents for all times.
    """
    text = value.strip()
    if not _TIMESTAMP.match(text):
        raise ValueError(f"not a Classy timestamp: {value!r}")
    if text[-1] in "zZ":
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_date(value: str) -> date:
    """Parse a plain ``YYYY-MM-DD`` date, or the date part of a full timestamp."""
    text = value.strip()
    if _DATE.match(text):
        return date.fromisoformat(text)
    return parse_timestamp(text).date()


def parse_local_datetime(value: str) -> datetime:
    """Parse a zoneless ``YYYY-MM-DD HH:MM:SS`` (Designation times) into a naive datetime.

    Should Classy ever add a zone to these fields, the value is parsed as a full timestamp
    (aware UTC) rather than rejected.
    """
    text = value.strip()
    if _LOCAL.match(text):
        return datetime.fromisoformat(text.replace(" ", "T"))
    return parse_timestamp(text)


def is_blank(value: str) -> bool:
    """True for the spellings of "no value" that Classy uses in date fields."""
    text = value.strip()
    return not text or text.startswith(_ZERO_PREFIX)
