"""Reading a list that Classy will not filter or sort by `updated_at`, completely all the same.

The window reader (window.py) refuses a page that ignores its filter or sort, since reading on could
skip records. The stream then falls back, remembered on its checkpoint (per organization and list):

* BY_ID: `filter=id>X&sort=id:asc`, re-anchored after every page like the window reader, so records
  that move or arrive while we page cannot shift one past us. A normal run reads only what is new
  (ids after the highest one we hold: Classy's ids only grow); updates to older records have no
  other way in, so the list is read whole from id 0 in every `reconcile` or `full` run, and in every
  run while it is small (`SMALL_LIST`).
* WHOLE: when not even the id filter and order hold, every page of the list is walked in every run,
  and walked again (taking unseen ids) until a pass sees the list's `total` unchanged and no id twice:
  a record deleted, inserted or moved under us shifts pages, and would otherwise be skipped silently.
  A list that refuses `sort=id:asc` (a 400) is walked in its own order.

A list falls back the same way when Classy refuses our query with a 400 instead of ignoring it.

Once a day (`RECHECK_AFTER`), a run tries the `updated_at` window again from the last complete read;
if the list honours it now, the fallback is dropped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from app.classy import ClassyBadRequestError, Page
from app.classy.query import condition
from app.classy.timestamps import parse_timestamp
from app.db.repositories.sync_state import BY_ID, INCREMENTAL, WHOLE, Checkpoint
from app.sync.window import Batch, UnorderedPageError, record_ts

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ID_SORT = "id:asc"
# A list of at most this many records (10 pages) is read whole in every run even when its id order
# holds: 10 requests (a third of a second of Classy's 1,800/min) buy updates that arrive with the next
# run instead of the next reconcile.
SMALL_LIST = 1_000
# How often a list in fallback is tried with the updated_at window again.
RECHECK_AFTER = timedelta(hours=24)
# A whole walk repeats until a pass sees nothing shift under it, at most this many passes.
MAX_WHOLE_PASSES = 3
# Runs of these modes read every fallback list whole.
WHOLE_READ_MODES = ("reconcile", "full")

FetchQuery = Callable[[int, str | None, str | None], Awaitable[Page]]
"""GET page `n` of the list with the given `filter` and `sort` (either may be None)."""


def _id(record: dict[str, Any]) -> int:
    return int(record["id"])


def next_read(
    cp: Checkpoint, *, mode: str, window_end: datetime, lookback: timedelta, now: datetime
) -> Checkpoint:
    """The read a run starts on a stream with no read in progress: how, and from where."""
    start = replace(
        cp,
        window_end=window_end,
        position_ts=None,
        position_id=None,
        block_pass=None,
        block_page=None,
    )
    recheck_due = cp.fallback_checked_at is None or now - cp.fallback_checked_at >= RECHECK_AFTER
    if cp.fallback is None or recheck_due:
        if cp.completed_through is not None:
            lower = cp.completed_through - lookback
        elif cp.history_floor is not None:
            # Reconnected to another organization: its records since then, never its older history.
            lower = cp.history_floor.replace(microsecond=0)
        else:
            lower = EPOCH
        return replace(start, window_start=lower, read=INCREMENTAL)
    small = cp.size is not None and cp.size <= SMALL_LIST
    never_whole = cp.after_id is None or cp.completed_through is None  # just fell back: read it all
    if cp.fallback == WHOLE or mode in WHOLE_READ_MODES or small or never_whole:
        return replace(start, window_start=window_end, read=WHOLE)
    return replace(start, window_start=window_end, read=BY_ID, position_id=cp.after_id or 0)


def refuses_query(exc: ClassyBadRequestError, cp: Checkpoint) -> bool:
    """Whether a 4xx on the read `cp` stands at is Classy refusing our filter or sort, which a fallback
    read can avoid: only a 400 (not a 405, 409 or 422), and not on the whole walk itself (which
    retries without `sort` inside)."""
    whole_walk = cp.read == WHOLE and cp.fallback == WHOLE
    return exc.status_code == 400 and not whole_walk


def fall_back(cp: Checkpoint, failed_read: str, now: datetime) -> Checkpoint:
    """The checkpoint once `failed_read` met a page that ignores our query: no read in progress."""
    level = BY_ID if failed_read == INCREMENTAL else WHOLE
    return replace(
        cp,
        window_start=None,
        window_end=None,
        position_ts=None,
        position_id=None,
        block_pass=None,
        block_page=None,
        read=INCREMENTAL,
        fallback=level,
        fallback_checked_at=now,
        # Leaving the window read (again): what it read cannot be trusted, so start from id 0.
        after_id=None if failed_read == INCREMENTAL else cp.after_id,
    )


def finished(cp: Checkpoint) -> Checkpoint:
    """The checkpoint once the read `cp` stands at has been read to its end."""
    done = replace(
        cp,
        window_start=None,
        window_end=None,
        position_ts=None,
        position_id=None,
        block_pass=None,
        block_page=None,
        read=INCREMENTAL,
    )
    if cp.read == INCREMENTAL:
        # The window read holds again (or never failed): every change before its end is in.
        return replace(
            done, completed_through=cp.window_end, fallback=None, fallback_checked_at=None, after_id=None
        )
    highest = max(cp.position_id or 0, cp.after_id or 0)
    if cp.read == BY_ID:
        return replace(done, after_id=highest)
    # A whole read saw every record as of its start: the same guarantee as a completed window.
    return replace(done, after_id=highest, completed_through=cp.window_end)


def reader(fetch: FetchQuery, cp: Checkpoint) -> AsyncIterator[Batch]:
    """The batches of a fallback read (BY_ID, or WHOLE in the way the list allows)."""
    if cp.read == BY_ID or (cp.read == WHOLE and cp.fallback == BY_ID):
        return read_by_id(fetch, cp)
    return read_whole(fetch, cp)


async def read_by_id(fetch: FetchQuery, cp: Checkpoint) -> AsyncIterator[Batch]:
    """Records with an id above the checkpoint's, in id order, re-anchored on the last id of each page.

    Any page that is not strictly ascending or holds an id at or below the anchor means the list ignores
    the id filter or order: UnorderedPageError, and the caller falls back to whole walks.
    """
    while True:
        after = cp.position_id or 0
        page = await fetch(1, condition("id", ">", after), ID_SORT)
        ids = [_id(r) for r in page.data]
        if any(i <= after for i in ids) or ids != sorted(set(ids)):
            raise UnorderedPageError("Classy returned a page not filtered and sorted by id as requested.")
        if ids:
            cp = replace(cp, position_id=ids[-1])
        if after == 0:
            cp = replace(cp, size=page.total)
        yield Batch(page.data, cp, len(page.data))
        if page.is_last or not ids:
            return


async def read_whole(fetch: FetchQuery, cp: Checkpoint) -> AsyncIterator[Batch]:
    """Every page of the unfiltered list, passes repeated until one agrees with the list's total.

    Offset pages shift when records are deleted, inserted or moved under us. A pass whose `total` did
    not change from its first page to its last and that was served no id twice saw no such shift (the
    records Classy sent malformed, set aside before we see them, do not count). A later pass only
    yields ids not yielded yet. Resumed from a checkpoint, a pass starts at the page after the last one
    committed (and cannot be verified, so another pass follows).
    """
    seen: set[int] = set()
    pass_number, page_number = cp.block_pass or 1, (cp.block_page or 0) + 1
    pass_ids: set[int] = set()
    served: dict[int, int] = {}  # records per page number served in this pass
    total_at_start: int | None = None
    sort: str | None = ID_SORT
    while True:
        try:
            page = await fetch(page_number, None, sort)
        except ClassyBadRequestError as exc:
            if sort is None or exc.status_code != 400:
                raise
            # The list refuses even an id order: walk it in its own, this pass again from page 1.
            sort, page_number, pass_ids, served, total_at_start = None, 1, set(), {}, None
            continue
        if page_number == 1:
            total_at_start = page.total
        ids = [_id(r) for r in page.data]
        fresh = [r for r in page.data if _id(r) not in seen]
        seen.update(ids)
        pass_ids.update(ids)
        served[page.current_page] = len(ids)
        cp = replace(
            cp,
            block_pass=pass_number,
            block_page=page_number,
            position_id=max([cp.position_id or 0, *ids]),
            size=page.total,
        )
        yield Batch(fresh, cp, len(page.data))
        if not page.is_last:
            page_number += 1
            continue
        # Unchanged total: nothing deleted or added shifted the pages. No id twice: nothing moved
        # (a record that moves ahead of us shows as another one served twice).
        agreed = total_at_start == page.total and len(pass_ids) == sum(served.values())
        if agreed or pass_number >= MAX_WHOLE_PASSES:
            return
        pass_number, page_number, pass_ids, served, total_at_start = pass_number + 1, 1, set(), {}, None


def after_floor(records: list[dict[str, Any]], floor: datetime | None) -> list[dict[str, Any]]:
    """Drop records older than a reconnection's history floor (a fallback read has no date filter)."""
    if floor is None:
        return records
    return [r for r in records if (ts := record_ts(r) or _created_at(r)) is None or ts >= floor]


def _created_at(record: dict[str, Any]) -> datetime | None:
    value = record.get("created_at")
    try:
        return parse_timestamp(value) if isinstance(value, str) and value else None
    except ValueError:
        return None
