"""Which records are set aside, and how a page ignoring `page` is caught (pure parts; no database)."""

from __future__ import annotations

from typing import Any

import pytest

from app.classy import Page
from app.classy.hostile import ClassyIgnoresPageError
from app.sync.page_guard import PageGuard
from app.sync.rejects import BAD_ID, BAD_UPDATED_AT, NO_ID, NO_UPDATED_AT, problem, set_aside, split
from app.sync.streams import STREAMS

SUPPORTERS = next(s for s in STREAMS if s.name == "supporters")
TRANSACTIONS = next(s for s in STREAMS if s.name == "transactions")
GOOD = "2024-06-01T12:00:00+0000"


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"id": 5, "updated_at": GOOD}, None),
        ({"id": "5", "updated_at": "2024-06-01T12:00:00Z"}, None),
        ({"updated_at": GOOD}, NO_ID),
        ({"id": None, "updated_at": GOOD}, NO_ID),
        ({"id": "abc", "updated_at": GOOD}, BAD_ID),
        ({"id": 5.0, "updated_at": GOOD}, BAD_ID),
        ({"id": True, "updated_at": GOOD}, BAD_ID),
        ({"id": -3, "updated_at": GOOD}, BAD_ID),
        ({"id": 2**63, "updated_at": GOOD}, BAD_ID),
        ({"id": "\uff11\uff12", "updated_at": GOOD}, BAD_ID),  # fullwidth digits: Postgres would not cast
        ({"id": 5, "updated_at": "not a time"}, BAD_UPDATED_AT),
        ({"id": 5, "updated_at": "2024-02-30T00:00:00+0000"}, BAD_UPDATED_AT),
        ({"id": 5, "updated_at": "0000-00-00 00:00:00"}, BAD_UPDATED_AT),
        ({"id": 5, "updated_at": 1717243200}, BAD_UPDATED_AT),
        ({"id": 5, "updated_at": None}, NO_UPDATED_AT),
        ({"id": 5}, NO_UPDATED_AT),
    ],
)
def test_what_is_set_aside(record: dict[str, Any], reason: str | None) -> None:
    assert problem(record, updated_at_required=True) == reason


def test_a_null_updated_at_is_fine_where_the_list_allows_it() -> None:
    good, bad = split(TRANSACTIONS, [{"id": 1, "updated_at": None}, {"id": 2}])
    assert [r["id"] for r in good] == [1, 2] and bad == []
    good, bad = split(SUPPORTERS, [{"id": 1, "updated_at": None}, {"id": 2, "updated_at": GOOD}])
    assert [r["id"] for r in good] == [2] and [b.classy_id for b in bad] == [1]


def test_a_record_set_aside_loses_its_nuls_and_keeps_a_stable_key() -> None:
    first = set_aside("supporters", {"first_name": "Ann\x00a", "tags": ["a\x00"], "k\x00": 1}, NO_ID)
    again = set_aside("supporters", {"k\x00": 1, "tags": ["a\x00"], "first_name": "Ann\x00a"}, NO_ID)
    assert first.raw == {"first_name": "Anna", "tags": ["a"], "k": 1}
    assert first.classy_id is None and first.record_key == again.record_key
    assert first.record_key.startswith("sha256:")
    with_id = set_aside("transactions", {"id": 42, "updated_at": "x"}, BAD_UPDATED_AT)
    assert (with_id.classy_id, with_id.record_key) == (42, "42")


def _page(number: int, ids: list[int]) -> Page:
    return Page(number, 9, 100, 900, "next", [{"id": i} for i in ids])


def test_the_same_page_again_is_caught_and_honest_pages_are_not() -> None:
    guard = PageGuard()
    guard.check("/x", "q", 1, _page(1, [1, 2, 3]))
    guard.check("/x", "q", 2, _page(2, [4, 5, 6]))
    guard.check("/x", "other", 1, _page(1, [4, 5, 6]))  # another query may hold the same records
    guard.check("/x", "q", 1, _page(1, [4, 5, 6]))  # a second pass starts again at page 1
    with pytest.raises(ClassyIgnoresPageError, match="answered page 2 of /x with page 1"):
        guard.check("/x", "q", 2, _page(2, [4, 5, 6]))
