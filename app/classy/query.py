"""Build Classy's list-query parameters (``filter``, ``sort``, ``with``, ``page``, ``per_page``).

Classy's grammar (docs/classy-api.md §4.1): ``filter={field}{op}{value}``, with the operator URL-encoded and
the whole value encoded exactly once. ``+0000`` must travel as ``%2B0000`` or Classy reads a space;
double encoding and timestamps with milliseconds are answered with 400. We therefore encode the
query string ourselves (``encode_query``) instead of relying on how a given httpx version treats
``params``: the bytes on the wire are pinned by our tests, whatever httpx does next release.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import quote

# Two-character operators first, so that "<=" is never read as "<" followed by "=".
OPERATORS: tuple[str, ...] = ("<=", ">=", "<>", "!=", "=", "<", ">")
MAX_PER_PAGE = 100


def format_timestamp(dt: datetime) -> str:
    """Format an aware datetime the way Classy filters accept it: ``2024-01-01T00:00:00+0000``.

    Milliseconds are dropped (Classy rejects them) and the time is converted to UTC. Naive
    datetimes are refused because guessing their zone silently shifts a sync window.
    """
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("format_timestamp needs a timezone-aware datetime")
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def format_value(value: object) -> str:
    """Render one filter value: datetimes as Classy timestamps, booleans as true/false."""
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | Decimal | str):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    raise TypeError(f"cannot use a {type(value).__name__} as a Classy filter value")


def condition(field: str, op: str, value: object) -> str:
    """Build one filter condition such as ``updated_at>=2024-01-01T00:00:00+0000``."""
    if op not in OPERATORS:
        raise ValueError(f"unknown filter operator {op!r}; use one of {', '.join(OPERATORS)}")
    if not field or any(ch in field for ch in "<>=!,"):
        raise ValueError(f"invalid filter field {field!r}")
    return f"{field}{op}{format_value(value)}"


def _join(value: str | Sequence[str] | None) -> str | None:
    """Join several items with commas, Classy's separator for sort keys, relations and conditions."""
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    joined = ",".join(v for v in value if v)
    return joined or None


def build_params(
    *,
    page: int = 1,
    per_page: int = 100,
    filter: str | Sequence[str] | None = None,
    sort: str | Sequence[str] | None = None,
    with_: str | Sequence[str] | None = None,
) -> list[tuple[str, str]]:
    """Return the query parameters of one list request, in a stable order.

    Several filter conditions are joined with a comma into ONE ``filter`` parameter. Classy does not
    document combining conditions (docs/classy-api.md §4.1 and §9); callers that need certainty
    should send one condition and apply the rest themselves.
    """
    if page < 1:
        raise ValueError("page starts at 1")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE} (Classy's maximum)")
    params: list[tuple[str, str]] = []
    for name, value in (("filter", filter), ("sort", sort), ("with", with_)):
        joined = _join(value)
        if joined is not None:
            params.append((name, joined))
    params.append(("page", str(page)))
    params.append(("per_page", str(per_page)))
    return params


def encode_query(params: Sequence[tuple[str, str]]) -> str:
    """Percent-encode parameters exactly once, with no character left unescaped but ``-._~``."""
    return "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in params)
