"""Classy timestamp formats: emit ``2024-06-01T12:00:00+0000``, parse what filters accept."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta

_TS_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2}):(\d{2})(Z|[+-]\d{2}:?\d{2})?)?$"
)
_MILLIS_RE = re.compile(r"\d{2}:\d{2}:\d{2}\.\d+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TimestampError(ValueError):
    """A filter value is not a date form Classy accepts."""


def format_ts(epoch: int) -> str:
    """Render whole epoch seconds the way Classy does (``…+0000``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(epoch))


def format_date(epoch: int) -> str:
    """Render the calendar date (UTC) of an epoch second."""
    return time.strftime("%Y-%m-%d", time.gmtime(epoch))


def now_epoch() -> int:
    """Current UTC time truncated to Classy's one-second precision."""
    return int(time.time())


def parse_filter_ts(value: str) -> int:
    """Parse a filter date value into epoch seconds.

    Accepted: ``2025-04-20``, ``2025-04-20T00:00:00+0000`` (any ``±HHMM`` / ``±HH:MM`` offset) and
    ``2025-04-20T00:00:00Z``. Rejected like the live API: milliseconds, and a ``+`` that arrived as a
    space because it was not sent as ``%2B``.
    """
    if _MILLIS_RE.search(value):
        raise TimestampError(f"Invalid date value '{value}': fractional seconds are not supported.")
    m = _TS_RE.match(value)
    if m is None:
        raise TimestampError(f"Invalid date value '{value}'.")
    year, month, day, hh, mm, ss, tz = m.groups()
    try:
        dt = datetime(int(year), int(month), int(day), int(hh or 0), int(mm or 0), int(ss or 0), tzinfo=UTC)
    except ValueError as exc:
        raise TimestampError(f"Invalid date value '{value}'.") from exc
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        dt -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return int((dt - _EPOCH).total_seconds())


def parse_emitted_ts(value: str) -> int:
    """Parse a timestamp in the emitted form (or any accepted filter form) to epoch seconds."""
    return parse_filter_ts(value)


def date_to_epoch(d: date) -> int:
    """Midnight UTC of a date, as epoch seconds."""
    return int((datetime(d.year, d.month, d.day, tzinfo=UTC) - _EPOCH).total_seconds())
