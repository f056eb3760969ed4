"""Parse the date and time formats Classy sends.

Classy is inconsistent (docs/classy-api.md §6.2): most timestamps are ``2024-05-15T16:44:19+0000``, some
spec examples use ``2021-04-23T08:23:21Z``, the spec text promises ``…T…:ss.sssZ``, and other
APIs in the same family emit ``+00:00``. Every one of them becomes an aware UTC datetime so that
comparisons and database writes never mix naive and aware values. (Plan dates and Designation times,
which have no zone, are never parsed in Python: Postgres casts them when a page is written.)
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_TIMESTAMP = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)

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


def is_blank(value: str) -> bool:
    """True for the spellings of "no value" that Classy uses in date fields."""
    text = value.strip()
    return not text or text.startswith(_ZERO_PREFIX)
