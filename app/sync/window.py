"""Reading one `updated_at` window of a Classy list completely while it changes under us.

Classy pages by offset. Read naively, a record updated while we page moves to the end of the list and
every later record shifts one place forward, so one record at the next page boundary is never seen.
This reader never trusts a page number across changes (docs/reading-a-changing-collection.md):

* sort by `updated_at:asc,id:asc`, filter `updated_at>=lower_bound`, and after each page **re-anchor**:
  the next request is page 1 of `updated_at>=<last ts seen>`, dropping keys already committed;
* when a whole page shares the lower bound's second (a bulk import), re-anchoring cannot move, so the
  block is walked by page number and then **walked once more**, taking ids not seen yet: records only
  ever leave a block (an update moves them past the window end or later in it), so the second pass
  catches whatever a departure shifted past us; while a later pass still finds such records, the
  departures may have gone on during it too, so the block is walked again (at most MAX_BLOCK_PASSES);
  then the read continues from the block's next second;
* the window ends at the run's start: records changed after it are the next run's work.

Each page is checked against the query: a record outside the filter, a page out of order, or totals
showing that records below the last key read were not on the page (a server that filters but ignores
the sort can hand out a page that looks sorted) raise UnorderedPageError, and the stream falls back to
reading by id (fallback.py). A record deleted while we page can trip the totals check too: harmless,
the list is then read by id until the daily re-check.

Records whose `updated_at` is null (allowed on transactions) never match a date filter; they are read
as a block of their own (no filter, sorted so that nulls come first).
Each yielded batch carries the checkpoint to commit with its records.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from app.classy import Page
from app.classy.query import condition
from app.classy.timestamps import parse_timestamp
from app.db.repositories.sync_state import Checkpoint

__all__ = ["SORT", "Batch", "Checkpoint", "UnorderedPageError", "WindowReader", "read_null_block"]

SORT = "updated_at:asc,id:asc"
ONE_SECOND = timedelta(seconds=1)
# A block is walked twice, and again while a pass still finds records the previous ones missed.
MAX_BLOCK_PASSES = 4
Fetch = Callable[[int, str | None], Awaitable[Page]]


@dataclass(frozen=True)
class Batch:
    """Records to upsert (possibly none) and the checkpoint that is true once they are committed."""

    records: list[dict[str, Any]]
    checkpoint: Checkpoint
    fetched: int


def record_ts(record: dict[str, Any]) -> datetime | None:
    """The record's `updated_at`, or None when Classy sent null/absent/unparseable."""
    value = record.get("updated_at")
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


def _id(record: dict[str, Any]) -> int:
    return int(record["id"])


class UnorderedPageError(Exception):
    """Classy answered a page that ignores our filter or sort; reading on could silently skip records."""


def _second(ts: datetime) -> datetime:
    """The whole second `ts` lies in: filters carry no fraction, so blocks and anchors are seconds."""
    return ts.replace(microsecond=0)


def _check_order(keyed: list[tuple[datetime | None, dict[str, Any]]], lower: datetime) -> None:
    previous: tuple[datetime, int] | None = None
    for ts, record in keyed:
        if ts is None:
            continue  # a server that lets nulls through a date filter: the null pass reads them
        if ts < lower:
            raise UnorderedPageError(
                f"Classy returned a record outside the requested updated_at filter (id {record.get('id')})."
            )
        key = (ts, _id(record))
        if previous is not None and key <= previous:
            raise UnorderedPageError("Classy returned a page not sorted by updated_at and id as requested.")
        previous = key


class WindowReader:
    """Yields batches of one window `[window_start, window_end)` in key order, resumable from a checkpoint."""

    def __init__(self, fetch: Fetch, checkpoint: Checkpoint) -> None:
        if checkpoint.window_start is None or checkpoint.window_end is None:
            raise ValueError("a window read needs the window's start and end")
        self._fetch = fetch
        self._cp = checkpoint
        self._start: datetime = checkpoint.window_start
        self._end: datetime = checkpoint.window_end

    def _after_position(self, ts: datetime, id_: int) -> bool:
        cp = self._cp
        if cp.position_ts is None or cp.position_id is None:
            return True
        return (ts, id_) > (cp.position_ts, cp.position_id)

    async def batches(self) -> AsyncIterator[Batch]:
        cp = self._cp
        if cp.block_pass and cp.position_ts is not None:
            async for batch in self._walk_block(_second(cp.position_ts), first_page_ids=None):
                yield batch
        # After a re-anchor: the previous page's `total`, and how many of its records lay below the new
        # anchor. Sorted as asked, that page held every record below the anchor, so the totals differ
        # by at most that many (updates and inserts meanwhile only shrink the difference).
        expected: tuple[int, int] | None = None
        while True:
            # Filters carry whole seconds (Classy refuses milliseconds), while records may be stamped
            # with milliseconds: the filter starts at the anchor's second, and a finished block (marked
            # 0) is left by starting at the next second, the same whichever precision Classy compares.
            lower = _second(self._cp.position_ts or self._start)
            if self._cp.block_pass == 0:
                lower += ONE_SECOND
            page = await self._fetch(1, condition("updated_at", ">=", lower))
            records = page.data
            keyed = [(record_ts(r), r) for r in records]
            _check_order(keyed, lower)
            if expected is not None and expected[0] - page.total > expected[1]:
                raise UnorderedPageError(
                    "Classy counted records below the last one read that its page sorted by updated_at "
                    "did not hold."
                )
            expected = None
            take = [
                r for ts, r in keyed if ts is not None and ts < self._end and self._after_position(ts, _id(r))
            ]
            reached_end = page.is_last or any(ts is not None and ts >= self._end for ts, _ in keyed)
            if take:
                last = take[-1]
                last_ts = record_ts(last)
                self._cp = replace(
                    self._cp, position_ts=last_ts, position_id=_id(last), block_pass=None, block_page=None
                )
            yield Batch(take, self._cp, len(records))
            if reached_end or not records:
                return
            timestamps = [ts for ts, _ in keyed if ts is not None]
            if timestamps and _second(max(timestamps)) > lower:
                anchor = _second(self._cp.position_ts or lower)
                # Records the page should have held but we were not given (set aside as malformed
                # before we saw them): they may lie below the anchor too.
                withheld = max(0, page.current_page * page.per_page - len(records))
                expected = (page.total, sum(1 for ts in timestamps if ts < anchor) + withheld)
                continue  # re-anchor on the last key
            # The whole page lies in the lower bound's second: walk that block by page number.
            async for batch in self._walk_block(lower, first_page_ids={_id(r) for r in records}):
                yield batch

    async def _walk_block(
        self, block_ts: datetime, *, first_page_ids: set[int] | None
    ) -> AsyncIterator[Batch]:
        """Two or more passes over the records stamped within second `block_ts`; then continue after it.

        `first_page_ids` are the ids of page 1, just read by the caller; None means we resume a walk
        from the checkpoint (its seen-set is gone, so pass 2 re-takes everything: harmless upserts).
        """
        seen: set[int] = set(first_page_ids or ())
        if first_page_ids is None:
            start_pass, start_page = self._cp.block_pass or 1, (self._cp.block_page or 0) + 1
        else:
            start_pass, start_page = 1, 2
        flt = condition("updated_at", ">=", block_ts)
        pass_number, page_number = start_pass, start_page
        while True:
            found = 0  # ids this pass took that no earlier pass had seen
            while True:
                page = await self._fetch(page_number, flt)
                in_block = [
                    r for r in page.data if (ts := record_ts(r)) is not None and _second(ts) == block_ts
                ]
                take = [r for r in in_block if _id(r) not in seen]
                seen.update(_id(r) for r in in_block)
                found += len(take) if pass_number > 1 else 0
                max_id = max([_id(r) for r in take], default=self._cp.position_id or 0)
                self._cp = replace(
                    self._cp,
                    position_ts=block_ts,
                    position_id=max(max_id, self._cp.position_id or 0),
                    block_pass=pass_number,
                    block_page=page_number,
                )
                yield Batch(take, self._cp, len(page.data))
                if page.is_last or len(in_block) < len(page.data):
                    break
                page_number += 1
            # A later pass that still found records means departures shifted pages during the one
            # before, and maybe during this one too: walk again, while that goes on (a few passes).
            if pass_number >= 2 and (found == 0 or pass_number >= MAX_BLOCK_PASSES):
                break
            pass_number, page_number = pass_number + 1, 1
        self._cp = replace(self._cp, position_ts=block_ts, block_pass=0, block_page=None)


SORT_DESC = "updated_at:desc,id:desc"


class FetchSorted(Protocol):
    """GET one page of the unfiltered list in the given order."""

    def __call__(self, page: int, per_page: int, sort: str = SORT) -> Awaitable[Page]: ...


async def read_null_block(fetch: FetchSorted, *, per_page: int = 100) -> AsyncIterator[list[dict[str, Any]]]:
    """Records whose `updated_at` is null: no date filter can find them, so read them as a block.

    Whether nulls sort first (MySQL, as Classy's Laravel backend) or last is not documented, so one
    one-record probe looks at each end of the sorted list: with no nulls (the usual case) that costs two
    small requests. The null block is then walked twice by page number, like any block, since records
    can only leave it (by getting a timestamp).
    """
    for sort in (SORT, SORT_DESC):
        probe = await fetch(1, 1, sort)
        if probe.data and record_ts(probe.data[0]) is None:
            break
    else:
        return
    seen: set[int] = set()
    for _ in (1, 2):
        page_number = 1
        while True:
            page = await fetch(page_number, per_page, sort)
            nulls = [r for r in page.data if record_ts(r) is None]
            fresh = [r for r in nulls if _id(r) not in seen]
            seen.update(_id(r) for r in nulls)
            if fresh:
                yield fresh
            if page.is_last or len(nulls) < len(page.data):
                break
            page_number += 1
