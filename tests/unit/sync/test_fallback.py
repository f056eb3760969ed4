"""Fallback reads (by id, whole walks), when to use them, and streams isolated from each other."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.classy import ClassyServerError, Page
from app.db.repositories.sync_state import BY_ID, INCREMENTAL, WHOLE, Checkpoint
from app.sync import fallback
from app.sync.isolation import StreamsFailed, run_error, run_isolated, stream_error
from app.sync.window import Batch, UnorderedPageError

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
LOOKBACK = timedelta(minutes=5)


class IdList:
    """Offset pages over records in id order (Classy's default), optionally honouring `id>X` filters."""

    def __init__(self, ids: list[int], *, honours_filter: bool = True, per_page: int = 10) -> None:
        self.ids = sorted(ids)
        self.honours_filter = honours_filter
        self.per_page = per_page
        self.requests: list[tuple[int, str | None, str | None]] = []
        self.on_request: Any = None

    async def fetch(self, number: int, flt: str | None, sort: str | None) -> Page:
        self.requests.append((number, flt, sort))
        if self.on_request:
            self.on_request(len(self.requests))
        items = self.ids
        if flt is not None and self.honours_filter:
            assert flt.startswith("id>")
            items = [i for i in items if i > int(flt[3:])]
        size = self.per_page
        last = max(1, -(-len(items) // size))
        chunk = items[(number - 1) * size : number * size]
        return Page(
            number, last, size, len(items), None if number >= last else "next", [{"id": i} for i in chunk]
        )


async def collect(batches: Any) -> tuple[list[int], Checkpoint | None]:
    got: list[int] = []
    last: Batch | None = None
    async for batch in batches:
        got.extend(r["id"] for r in batch.records)
        last = batch
    return got, last.checkpoint if last else None


def reading(read: str, **values: Any) -> Checkpoint:
    return Checkpoint(window_start=NOW, window_end=NOW, read=read, **values)


async def test_by_id_reads_each_record_once_while_records_arrive_and_leave() -> None:
    fake = IdList(list(range(1, 96)))

    def change(n: int) -> None:
        fake.ids.append(1000 + n)  # a new record at the end
        fake.ids.remove(fake.ids[0])  # an early one deleted: offsets shift, anchors do not

    fake.on_request = change
    got, cp = await collect(fallback.read_by_id(fake.fetch, reading(BY_ID, fallback=BY_ID)))
    assert len(got) == len(set(got))
    assert set(range(11, 96)) <= set(got)  # every record that was never deleted
    assert cp is not None and cp.position_id == max(fake.ids)


async def test_by_id_starts_after_the_highest_id_held() -> None:
    fake = IdList(list(range(1, 31)))
    got, cp = await collect(fallback.read_by_id(fake.fetch, reading(BY_ID, position_id=25)))
    assert got == [26, 27, 28, 29, 30]
    assert fake.requests == [(1, "id>25", "id:asc")]
    assert cp is not None and cp.size is None  # a read from an id says nothing of the list's size


async def test_by_id_refuses_a_list_that_ignores_the_id_filter() -> None:
    fake = IdList(list(range(1, 31)), honours_filter=False)
    with pytest.raises(UnorderedPageError):
        await collect(fallback.read_by_id(fake.fetch, reading(WHOLE, fallback=BY_ID)))


async def test_whole_walk_of_a_quiet_list_is_one_pass() -> None:
    fake = IdList(list(range(1, 26)), honours_filter=False)
    got, cp = await collect(fallback.read_whole(fake.fetch, reading(WHOLE, fallback=WHOLE)))
    assert got == list(range(1, 26))
    assert [n for n, _, _ in fake.requests] == [1, 2, 3]
    assert cp is not None and (cp.size, cp.position_id) == (25, 25)


async def test_whole_walk_catches_a_record_shifted_past_it_by_a_deletion() -> None:
    fake = IdList(list(range(1, 31)), honours_filter=False)

    def delete_after_first_page(n: int) -> None:
        if n == 2:
            fake.ids.remove(5)  # page 2 now starts at 12: record 11 would be skipped

    fake.on_request = delete_after_first_page
    got, _ = await collect(fallback.read_whole(fake.fetch, reading(WHOLE, fallback=WHOLE)))
    assert sorted(got) == list(range(1, 31)) and len(got) == 30
    assert [n for n, _, _ in fake.requests] == [1, 2, 3, 1, 2, 3]  # the second pass agreed with total


async def test_whole_walk_catches_a_record_that_moves_ahead_of_it() -> None:
    """A list in some other order (say, last updated first): an update moves a record to the front."""
    fake = IdList(list(range(1, 31)), honours_filter=False)

    def move_after_first_page(n: int) -> None:
        if n == 2:
            fake.ids.remove(25)  # not read yet: it jumps ahead of us, 11 slides onto page 2 again
            fake.ids.insert(0, 25)

    fake.on_request = move_after_first_page
    got, _ = await collect(fallback.read_whole(fake.fetch, reading(WHOLE, fallback=WHOLE)))
    assert sorted(got) == list(range(1, 31))
    assert [n for n, _, _ in fake.requests] == [1, 2, 3, 1, 2, 3]


async def test_whole_walk_of_pages_with_records_set_aside_is_one_pass() -> None:
    fake = IdList(list(range(1, 26)), honours_filter=False)

    async def screened(number: int, flt: str | None, sort: str | None) -> Page:
        page = await fake.fetch(number, flt, sort)
        return replace(page, data=[r for r in page.data if r["id"] != 14])  # malformed: set aside

    got, _ = await collect(fallback.read_whole(screened, reading(WHOLE, fallback=WHOLE)))
    assert got == [i for i in range(1, 26) if i != 14]
    assert [n for n, _, _ in fake.requests] == [1, 2, 3]


async def test_whole_walk_resumes_after_the_last_committed_page() -> None:
    fake = IdList(list(range(1, 31)), honours_filter=False)
    cp = reading(WHOLE, fallback=WHOLE, block_pass=1, block_page=2, position_id=20)
    got, _ = await collect(fallback.read_whole(fake.fetch, cp))
    assert set(got) == set(range(1, 31))
    # Page 3, then a verifying pass (the resumed one could not be counted).
    assert [n for n, _, _ in fake.requests] == [3, 1, 2, 3]


def test_next_read_follows_what_the_list_honours() -> None:
    end = NOW + timedelta(seconds=1)

    def plan(cp: Checkpoint, mode: str = "incremental") -> Checkpoint:
        return fallback.next_read(cp, mode=mode, window_end=end, lookback=LOOKBACK, now=NOW)

    done = NOW - timedelta(hours=1)
    assert plan(Checkpoint()).read == INCREMENTAL and plan(Checkpoint()).window_start == fallback.EPOCH
    assert plan(Checkpoint(completed_through=done)).window_start == done - LOOKBACK
    big = Checkpoint(
        completed_through=done, fallback=BY_ID, fallback_checked_at=NOW, after_id=500, size=50_000
    )
    assert (plan(big).read, plan(big).position_id) == (BY_ID, 500)
    assert plan(big, "reconcile").read == WHOLE and plan(big, "reconcile").position_id is None
    assert plan(replace(big, size=fallback.SMALL_LIST)).read == WHOLE
    assert plan(replace(big, fallback=WHOLE)).read == WHOLE
    assert plan(replace(big, completed_through=None)).read == WHOLE  # never read whole yet
    assert plan(replace(big, after_id=None)).read == WHOLE  # just left the window read
    recheck = plan(replace(big, fallback_checked_at=NOW - fallback.RECHECK_AFTER))
    assert (recheck.read, recheck.window_start) == (INCREMENTAL, done - LOOKBACK)
    assert all(plan(cp).window_end == end for cp in (big, Checkpoint()))


def test_a_refused_read_falls_back_and_a_finished_one_moves_the_cursor() -> None:
    window = Checkpoint(window_start=NOW, window_end=NOW, position_id=7, read=INCREMENTAL, after_id=3)
    fell = fallback.fall_back(window, INCREMENTAL, NOW)
    assert (fell.fallback, fell.in_progress, fell.after_id, fell.position_id) == (BY_ID, False, None, None)
    assert fallback.fall_back(reading(WHOLE, fallback=BY_ID), WHOLE, NOW).fallback == WHOLE
    by_id = fallback.finished(reading(BY_ID, fallback=BY_ID, position_id=40, after_id=30))
    assert (by_id.after_id, by_id.completed_through, by_id.in_progress) == (40, None, False)
    whole = fallback.finished(reading(WHOLE, fallback=BY_ID, position_id=50))
    assert (whole.after_id, whole.completed_through, whole.fallback) == (50, NOW, BY_ID)
    healed = fallback.finished(reading(INCREMENTAL, fallback=BY_ID, fallback_checked_at=NOW, after_id=9))
    assert (healed.fallback, healed.fallback_checked_at, healed.after_id) == (None, None, None)
    assert healed.completed_through == NOW


def test_history_floor_applies_to_reads_without_a_date_filter() -> None:
    records = [
        {"id": 1, "updated_at": "2020-01-01T00:00:00+0000"},
        {"id": 2, "updated_at": "2026-01-01T00:00:00+0000"},
        {"id": 3, "updated_at": None, "created_at": "2019-01-01T00:00:00+0000"},
    ]
    floor = datetime(2025, 1, 1, tzinfo=UTC)
    assert [r["id"] for r in fallback.after_floor(records, floor)] == [2]
    assert fallback.after_floor(records, None) == records


async def test_a_failing_stream_leaves_the_others_running_to_their_end() -> None:
    finished: list[str] = []

    async def slow(name: str) -> None:
        await asyncio.sleep(0.05)
        finished.append(name)

    async def broken() -> None:
        raise ClassyServerError("Classy answered with a server error.")

    failures = await run_isolated(
        {"supporters": slow("supporters"), "registrations": broken(), "campaigns": slow("campaigns")},
        fatal=(KeyboardInterrupt,),
    )
    assert sorted(finished) == ["campaigns", "supporters"]
    assert list(failures) == ["registrations"]
    assert stream_error("registrations", failures["registrations"]) == "Classy answered with a server error."


async def test_a_failure_that_concerns_every_stream_stops_them_all() -> None:
    class Stop(Exception):
        pass

    cancelled: list[str] = []

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append("slow")
            raise

    async def stopping() -> None:
        raise Stop

    with pytest.raises(Stop):
        await asyncio.wait_for(run_isolated({"a": slow(), "b": stopping()}, fatal=(Stop,)), 5)
    assert cancelled == ["slow"]


def test_the_run_error_names_the_failed_lists() -> None:
    one = run_error({"registrations": "Classy could not be reached."}, others_synced=True)
    assert one == (
        "Registrations could not be synced: Classy could not be reached. "
        "The other lists were synced; the next sync retries it from where it stopped."
    )
    two = StreamsFailed({"supporters": "X.", "recurring_donation_plans": "X."}, others_synced=False)
    assert two.sentence == (
        "Supporters and recurring donation plans could not be synced: X. "
        "The next sync retries them from where they stopped."
    )
