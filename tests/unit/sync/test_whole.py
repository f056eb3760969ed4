"""Whole reads of the lists Classy cannot filter by updated_at: every page, nothing twice."""

from __future__ import annotations

from typing import Any

from app.classy import Page
from app.sync.whole import read_whole


def _page(number: int, last: int, ids: list[int]) -> Page:
    return Page(
        current_page=number,
        last_page=last,
        per_page=2,
        total=5,
        next_page_url=None if number >= last else f"?page={number + 1}",
        data=[{"id": i} for i in ids],
    )


async def test_reads_every_page_once_and_skips_records_shifted_onto_a_later_page() -> None:
    pages = {1: [1, 2], 2: [2, 3], 3: [4, 5]}  # record 2 shifted by an insert before it
    asked: list[int] = []

    async def fetch(number: int) -> Page:
        asked.append(number)
        return _page(number, 3, pages[number])

    seen: list[Any] = []
    async for records in read_whole(fetch):
        seen += [r["id"] for r in records]
    assert asked == [1, 2, 3] and seen == [1, 2, 3, 4, 5]


async def test_an_empty_list_is_one_request() -> None:
    async def fetch(number: int) -> Page:
        return _page(number, 1, [])

    assert [r async for r in read_whole(fetch)] == []
