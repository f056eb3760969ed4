"""One page of a Classy list: the paginator envelope around raw record dicts.

Classy's envelope is Laravel's length-aware paginator (docs/classy-api.md §3). Records stay plain dicts:
the sync engine maps thousands of them per second and validating each into a model first would
dominate its CPU. Numeric envelope fields are coerced with ``int()`` because Laravel echoes
``per_page`` from the query string and may send it as a string.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Page:
    """A page of records and where it sits in the list."""

    current_page: int
    last_page: int
    per_page: int
    total: int
    next_page_url: str | None
    data: list[dict[str, Any]]

    @property
    def is_last(self) -> bool:
        """True when no page should be requested after this one."""
        return self.current_page >= self.last_page or self.next_page_url is None or not self.data


def parse_page(body: object, *, requested_page: int, requested_per_page: int) -> Page:
    """Read the envelope; raise ValueError when ``body`` is not a page at all."""
    if not isinstance(body, dict):
        raise ValueError("a page must be a JSON object")
    data = body.get("data")
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ValueError("a page's data must be a list of objects")
    current_page = _int(body.get("current_page"), requested_page)
    last_page = max(_int(body.get("last_page"), current_page), 1)
    next_url = body.get("next_page_url")
    if "next_page_url" not in body and current_page < last_page:
        # Absent (not null): let last_page decide, with a relative stand-in for the link.
        next_url = f"?page={current_page + 1}"
    return Page(
        current_page=current_page,
        last_page=last_page,
        per_page=_int(body.get("per_page"), requested_per_page),
        total=_int(body.get("total"), len(data)),
        next_page_url=next_url if isinstance(next_url, str) and next_url else None,
        data=data,
    )


def _int(value: object, default: int) -> int:
    if isinstance(value, bool) or value is None:
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float | str):
        try:
            return int(float(value))
        except (ValueError, OverflowError):  # NaN, or inf / 1e400 given as a string
            return default
    return default
