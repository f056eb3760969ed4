"""The window reader against an in-memory Classy list that changes between every page request."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.classy import Page
from app.classy.query import format_timestamp
from app.sync.window import Checkpoint, WindowReader, read_null_block

T0 = datetime(2024, 1, 1, tzinfo=UTC)


class FakeList:
    """Offset pages over records sorted by (updated_at, id), filtered like Classy's `updated_at>=`."""

    def __init__(
        self,
        records: dict[int, datetime | None],
        per_page: int = 10,
        *,
        millis: bool = False,
        compare_seconds: bool = False,
        max_requests: int = 10_000,
    ) -> None:
        self.records = records
        self.per_page = per_page
        self.requests = 0
        self.on_request: Any = None
        self.nulls_last = False
        # Stamps sent as `.sssZ` (the spec's own format); a filter compares them exactly, or (as a
        # Classy that stores whole seconds would) by their second.
        self.millis = millis
        self.compare_seconds = compare_seconds
        self.max_requests = max_requests

    def _key(self, ts: datetime) -> datetime:
        return ts.replace(microsecond=0) if self.compare_seconds else ts

    def _format(self, ts: datetime) -> str:
        if self.millis:
            return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
        return format_timestamp(ts)

    def _sorted(self, flt: str | None) -> list[tuple[datetime | None, int]]:
        items = [(ts, id_) for id_, ts in self.records.items()]
        if flt is not None:
            op = ">=" if ">=" in flt else ">"
            bound = datetime.strptime(flt.split(op, 1)[1], "%Y-%m-%dT%H:%M:%S%z")
            items = [
                (ts, i)
                for ts, i in items
                if ts is not None and (self._key(ts) >= bound if op == ">=" else self._key(ts) > bound)
            ]
        return sorted(items, key=lambda k: (k[0] is not None, k[0] or T0, k[1]))

    def page(self, number: int, flt: str | None, per_page: int | None = None, sort: str = "asc") -> Page:
        self.requests += 1
        assert self.requests <= self.max_requests, f"the reader kept asking: {flt}, page {number}"
        if self.on_request:
            self.on_request()
        size = per_page or self.per_page
        items = self._sorted(flt)
        if "desc" in sort:
            items = items[::-1]
        if self.nulls_last:
            items = [i for i in items if i[0] is not None] + [i for i in items if i[0] is None]
            if "desc" in sort:
                items = [i for i in items if i[0] is None] + [i for i in items if i[0] is not None]
        chunk = items[(number - 1) * size : number * size]
        last = max(1, -(-len(items) // size))
        data = [{"id": i, "updated_at": self._format(ts) if ts else None} for ts, i in chunk]
        return Page(number, last, size, len(items), None if number >= last else "next", data)


async def read_all(
    fake: FakeList, start: datetime, end: datetime, checkpoint: Checkpoint | None = None
) -> list[int]:
    async def fetch(number: int, flt: str | None) -> Page:
        return fake.page(number, flt)

    cp = checkpoint or Checkpoint(window_start=start, window_end=end)
    got: list[int] = []
    async for batch in WindowReader(fetch, cp).batches():
        got.extend(r["id"] for r in batch.records)
    return got


async def test_reads_every_record_once_in_a_static_list() -> None:
    records = {i: T0 + timedelta(seconds=i // 3) for i in range(1, 101)}
    got = await read_all(FakeList(records), T0, T0 + timedelta(days=1))
    assert sorted(got) == list(range(1, 101))
    assert len(got) == len(set(got))


async def test_huge_block_of_one_second_is_read_completely() -> None:
    records = {i: T0 for i in range(1, 251)} | {i: T0 + timedelta(seconds=5) for i in range(251, 271)}
    fake = FakeList(records)
    got = await read_all(fake, T0, T0 + timedelta(days=1))
    assert sorted(got) == list(range(1, 271))
    assert fake.requests < 80


async def test_window_end_excludes_later_records() -> None:
    records = {1: T0, 2: T0 + timedelta(hours=1), 3: T0 + timedelta(hours=3)}
    got = await read_all(FakeList(records), T0, T0 + timedelta(hours=2))
    assert got == [1, 2]


@pytest.mark.parametrize("seed", range(30))
async def test_no_record_is_skipped_while_records_move_and_arrive(seed: int) -> None:
    """Updates stamp records with 'now' (after the window end) and inserts arrive; two runs see all."""
    rng = random.Random(seed)
    records: dict[int, datetime | None] = {
        i: T0 + timedelta(seconds=rng.choice([0, 0, 0, 1, 2, 3, rng.randrange(100)])) for i in range(1, 301)
    }
    fake = FakeList(records, per_page=rng.choice([5, 10, 25]))
    end = T0 + timedelta(days=1)
    later = end + timedelta(seconds=1)
    next_id = [1000]

    def churn() -> None:
        for _ in range(rng.randrange(3)):
            records[rng.choice(list(records))] = later
        if rng.random() < 0.3:
            records[next_id[0]] = later
            next_id[0] += 1

    fake.on_request = churn
    first = await read_all(fake, T0, end)
    fake.on_request = None
    second = await read_all(fake, end - timedelta(minutes=5), later + timedelta(seconds=1))
    assert set(first) | set(second) == set(records)
    assert len(first) == len(set(first))


async def test_resume_from_checkpoint_in_the_middle_of_a_block() -> None:
    records = {i: T0 for i in range(1, 61)}
    fake = FakeList(records)

    async def fetch(number: int, flt: str | None) -> Page:
        return fake.page(number, flt)

    end = T0 + timedelta(days=1)
    reader = WindowReader(fetch, Checkpoint(window_start=T0, window_end=end))
    seen: list[int] = []
    checkpoint = None
    async for batch in reader.batches():
        seen.extend(r["id"] for r in batch.records)
        checkpoint = batch.checkpoint
        if len(seen) >= 30:
            break
    assert checkpoint is not None and checkpoint.block_pass == 1
    rest = await read_all(fake, T0, end, checkpoint)
    assert set(seen) | set(rest) == set(records)


async def test_null_updated_at_records_are_read_as_a_block() -> None:
    records: dict[int, datetime | None] = {i: None for i in range(1, 24)} | {50: T0}
    fake = FakeList(records)

    async def fetch(number: int, per_page: int, sort: str = "asc") -> Page:
        return fake.page(number, None, per_page, sort)

    for nulls_last in (False, True):
        fake.nulls_last = nulls_last
        got: list[int] = []
        async for chunk in read_null_block(fetch, per_page=10):
            got.extend(r["id"] for r in chunk)
        assert sorted(got) == list(range(1, 24)), f"nulls_last={nulls_last}"


async def test_no_nulls_costs_two_small_probes() -> None:
    fake = FakeList({1: T0, 2: T0})

    async def fetch(number: int, per_page: int, sort: str = "asc") -> Page:
        return fake.page(number, None, per_page, sort)

    assert [c async for c in read_null_block(fetch)] == []
    assert fake.requests == 2


async def test_a_server_ignoring_the_sort_stops_the_read_instead_of_skipping() -> None:
    from app.sync.window import UnorderedPageError

    async def fetch(number: int, flt: str | None) -> Page:
        data = [
            {"id": 2, "updated_at": "2024-01-01T00:00:05+0000"},
            {"id": 1, "updated_at": "2024-01-01T00:00:01+0000"},
        ]
        return Page(1, 1, 10, 2, None, data)

    with pytest.raises(UnorderedPageError):
        async for _ in WindowReader(
            fetch, Checkpoint(window_start=T0, window_end=T0 + timedelta(days=1))
        ).batches():
            pass


async def test_a_window_starting_mid_second_reads_that_whole_second() -> None:
    records: dict[int, datetime | None] = {1: T0, 2: T0 + timedelta(seconds=1)}
    got = await read_all(FakeList(records), T0 + timedelta(microseconds=500_000), T0 + timedelta(days=1))
    assert got == [1, 2]


async def test_a_server_ignoring_the_sort_is_caught_even_when_a_page_looks_sorted() -> None:
    """Filtered but in id order: page 1 happens to be ascending, yet a later id sorts inside it."""
    from app.sync.window import UnorderedPageError

    stamps = {i: T0 + timedelta(seconds=i) for i in range(1, 11)}
    stamps[11] = T0 + timedelta(seconds=5)  # sorted, it comes right after id 5: id order hides it
    stamps[12] = T0 + timedelta(seconds=20)

    async def fetch(number: int, flt: str | None) -> Page:
        assert flt is not None and number == 1
        bound = datetime.strptime(flt.split(">=", 1)[1], "%Y-%m-%dT%H:%M:%S%z")
        ids = sorted(i for i, ts in stamps.items() if ts >= bound)  # id order: the sort is ignored
        chunk = ids[:10]
        data = [{"id": i, "updated_at": format_timestamp(stamps[i])} for i in chunk]
        return Page(1, max(1, -(-len(ids) // 10)), 10, len(ids), "next" if len(ids) > 10 else None, data)

    with pytest.raises(UnorderedPageError):
        async for _ in WindowReader(
            fetch, Checkpoint(window_start=T0, window_end=T0 + timedelta(days=1))
        ).batches():
            pass


async def test_records_set_aside_from_a_page_do_not_look_like_an_ignored_sort() -> None:
    records: dict[int, datetime | None] = {i: T0 + timedelta(seconds=i) for i in range(1, 31)}
    fake = FakeList(records)

    async def fetch(number: int, flt: str | None) -> Page:
        page = fake.page(number, flt)
        return replace(page, data=[r for r in page.data if r["id"] not in (4, 17)])  # malformed: set aside

    got: list[int] = []
    async for batch in WindowReader(
        fetch, Checkpoint(window_start=T0, window_end=T0 + timedelta(days=1))
    ).batches():
        got.extend(r["id"] for r in batch.records)
    assert got == [i for i in range(1, 31) if i not in (4, 17)]


@pytest.mark.parametrize("compare_seconds", [False, True])
async def test_records_stamped_with_milliseconds_are_read_once_without_asking_forever(
    compare_seconds: bool,
) -> None:
    """The spec's own format is `.sssZ`, while filters carry whole seconds: a page of records all in one
    second but with different milliseconds must be walked as that second's block, not re-anchored on."""
    ms = timedelta(milliseconds=1)
    records: dict[int, datetime | None] = {i: T0 + i * 3 * ms for i in range(1, 251)}
    records |= {i: T0 + timedelta(seconds=5) + i * ms for i in range(251, 271)}
    records |= {i: T0 + timedelta(seconds=9, milliseconds=999) for i in range(271, 281)}
    fake = FakeList(records, millis=True, compare_seconds=compare_seconds, max_requests=200)
    got = await read_all(fake, T0, T0 + timedelta(days=1))
    assert sorted(got) == list(range(1, 281))
    assert len(got) == len(set(got))


@pytest.mark.parametrize("seed", range(30))
async def test_no_record_stamped_with_milliseconds_is_skipped_while_records_move(seed: int) -> None:
    rng = random.Random(seed)
    records: dict[int, datetime | None] = {
        i: T0 + timedelta(seconds=rng.choice([0, 0, 1, rng.randrange(50)]), milliseconds=rng.randrange(1000))
        for i in range(1, 301)
    }
    fake = FakeList(
        records, per_page=rng.choice([5, 10, 25]), millis=True, compare_seconds=rng.random() < 0.5
    )
    fake.max_requests = 2_000
    end = T0 + timedelta(days=1)
    later = end + timedelta(seconds=1)

    def churn() -> None:  # an update now and then (two passes over a block hold against that much)
        if rng.random() < 0.2:
            records[rng.choice(list(records))] = later + timedelta(milliseconds=rng.randrange(1000))

    fake.on_request = churn
    first = await read_all(fake, T0, end)
    fake.on_request = None
    second = await read_all(fake, end - timedelta(minutes=5), later + timedelta(seconds=2))
    missing = set(records) - set(first) - set(second)
    assert not missing, [(m, records[m], fake.per_page, fake.compare_seconds) for m in missing]
    assert len(first) == len(set(first))


async def _misses_under_heavy_churn(seed: int, millis: bool) -> set[int]:
    """Records neither of two runs read, on a 300-record list updated about once per request."""
    rng = random.Random(seed)
    records: dict[int, datetime | None] = {
        i: T0
        + timedelta(
            seconds=rng.choice([0, 0, 0, 1, 2, 3, rng.randrange(100)]),
            milliseconds=rng.randrange(1000) if millis else 0,
        )
        for i in range(1, 301)
    }
    fake = FakeList(records, per_page=rng.choice([5, 10, 25]), millis=millis)
    end = T0 + timedelta(days=1)
    later = end + timedelta(seconds=1)

    def churn() -> None:
        for _ in range(rng.randrange(3)):
            moved = rng.choice(list(records))
            records[moved] = later + timedelta(milliseconds=rng.randrange(1000) if millis else 0)

    fake.on_request = churn
    first = await read_all(fake, T0, end)
    fake.on_request = None
    second = await read_all(fake, end - timedelta(minutes=5), later + timedelta(seconds=2))
    assert len(first) == len(set(first))
    return set(records) - set(first) - set(second)


async def test_blocks_are_walked_again_while_records_keep_leaving_them() -> None:
    """Departures during the second pass over a block shift records past it too. Over these 200 lists
    (blocks of dozens of pages, about one update per request), two passes left a record unread in 15;
    walking again while a pass still finds records leaves at most one such list (a record skipped by two
    passes in a row while the later one found nothing new)."""
    missed = [
        (seed, millis)
        for millis in (False, True)
        for seed in range(100)
        if await _misses_under_heavy_churn(seed, millis)
    ]
    assert len(missed) <= 1, missed
