"""The prefetcher hands a busy consumer what was fetched meanwhile, in order and in bounded lists."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.sync.prefetch import prefetch_runs


async def numbers(count: int, fail_after: int | None = None) -> AsyncIterator[int]:
    for n in range(count):
        if n == fail_after:
            raise RuntimeError("the list broke")
        await asyncio.sleep(0)
        yield n


async def test_a_slow_consumer_gets_what_was_fetched_meanwhile_in_one_list() -> None:
    runs: list[list[int]] = []
    async for run in prefetch_runs(numbers(10), depth=3, most=3):
        runs.append(run)
        await asyncio.sleep(0.05)  # busy writing: the producer fills the queue
    assert [n for run in runs for n in run] == list(range(10))
    assert runs[0] == [0]  # the first item is handed over as soon as it exists
    assert max(len(run) for run in runs) == 3
    assert all(len(run) <= 3 for run in runs)


async def test_lists_never_exceed_most_even_with_a_deeper_queue() -> None:
    runs: list[list[int]] = []
    async for run in prefetch_runs(numbers(20), depth=8, most=2):
        runs.append(run)
        await asyncio.sleep(0.05)
    assert [n for run in runs for n in run] == list(range(20))
    assert {len(run) for run in runs[1:-1]} == {2}


async def test_a_fast_consumer_gets_one_item_at_a_time() -> None:
    async def slow_numbers() -> AsyncIterator[int]:
        for n in range(5):
            await asyncio.sleep(0.01)
            yield n

    runs = [run async for run in prefetch_runs(slow_numbers(), depth=4, most=4)]
    assert runs == [[n] for n in range(5)]


async def test_a_failure_is_raised_after_the_items_fetched_before_it() -> None:
    seen: list[int] = []
    with pytest.raises(RuntimeError, match="the list broke"):
        async for run in prefetch_runs(numbers(10, fail_after=5), depth=4, most=4):
            seen += run
            await asyncio.sleep(0.05)
    assert seen == [0, 1, 2, 3, 4]


async def test_runs_of_one_yield_single_items() -> None:
    assert [run async for run in prefetch_runs(numbers(4), depth=2, most=1)] == [[0], [1], [2], [3]]
