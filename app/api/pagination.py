"""Keyset pagination shared by every list of the API: one cursor codec, one page builder, one error.

A cursor is the opaque form of the last id a page showed (`id:<n>`, base64url). Lists read `limit + 1`
rows past that id: the extra row only says whether another page exists, so `next_cursor` is null exactly
on the last page (never a cursor that leads to an empty page).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from app.errors import AppError

T = TypeVar("T")
_PREFIX = "id:"
MAX_LIMIT = 500
DEFAULT_LIMIT = 100

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (at most 500).")]
Cursor = Annotated[str | None, Query(max_length=200, description="The next_cursor of the previous page.")]


class InvalidCursorError(AppError):
    status_code = 422
    code = "invalid_cursor"


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The id a page continues from; a cursor we did not hand out is a 422 with a sentence."""
    if cursor is None or cursor == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        digits = raw[len(_PREFIX) :]
        if raw.startswith(_PREFIX) and digits.isascii() and digits.isdigit() and len(digits) <= 18:
            return int(digits)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise InvalidCursorError("The cursor is not valid; pass the next_cursor of a previous page.")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_cursor: str | None


def build_page(rows: Sequence[T], limit: int, key: Callable[[T], int]) -> Page[T]:
    """The first `limit` of `rows` (read with `limit + 1`), and the cursor of the next page if any."""
    items = rows[:limit]
    next_cursor = encode_cursor(key(items[-1])) if len(rows) > limit and items else None
    return Page(items=items, next_cursor=next_cursor)


class ItemPage(BaseModel, Generic[T]):
    """A list's JSON body; each list subclasses it with its item model so the schema keeps its own name."""

    items: list[T]
    next_cursor: str | None
