"""Reconcile: what the incremental read cannot see (API.md section 5). Runs after a run's streams.

Classy has no feed of deletions, and whether a refund moves a transaction's `updated_at` is not
confirmed (CLASSY_API.md 7.1). So a `reconcile` (or `full`) run, once its streams are read:

1. re-reads the transactions purchased or refunded in the last `RECONCILE_LOOKBACK_DAYS` (one filter per
   request, as the reference only shows single filters; `purchased_at` is confirmed in the field, and a
   Classy that refuses a `refunded_at` filter only costs that half). Unchanged ones are not written;
2. for each list compares our live rows of the organization with Classy's `total` (one request with
   `per_page=1`). After an incremental read our ids contain Classy's, so equal counts mean nothing was
   deleted: nothing more is asked and nothing written;
3. only where the counts differ, walks Classy's ids in order (`filter=id>last`, `sort=id:asc`,
   100 a page: keyset, so records deleted or added during the walk cannot shift one out of sight) and
   marks our rows in each walked range that Classy did not return; rows Classy returns again are
   unmarked. (The reference declares `fields` on none of these lists, so the pages carry whole
   records: those we hold no row for, which the incremental reads missed, are brought in.) A list
   that refuses or ignores the id walk is listed whole, in its own order, and marked only from a pass
   that nothing shifted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.classy import ClassyClient, Page
from app.classy.errors import ClassyBadRequestError
from app.classy.query import condition
from app.db.base import utc_now
from app.db.models import Integration
from app.db.repositories import deletions
from app.settings import Settings
from app.sync.fallback import MAX_WHOLE_PASSES, after_floor
from app.sync.streams import Stream
from app.sync.window import UnorderedPageError

logger = logging.getLogger(__name__)

MODES = ("incremental", "reconcile", "full")
# Modes whose runs reconcile after reading their streams (`full` reads everything, so it reconciles too).
RECONCILING_MODES = frozenset({"reconcile", "full"})
WALK_PER_PAGE = 100  # Classy's largest page: the fewest requests per walk
ID_SORT = "id:asc"


def reconcile_due_at(
    integration: Integration, settings: Settings, *, reconciled_at: datetime | None = None
) -> datetime | None:
    """When the integration's next scheduled reconcile is due: an interval after the last reconcile
    (`reconciled_at` when one just ended), or after the connection before the first."""
    since = reconciled_at or integration.last_reconciled_at or integration.connected_at
    if since is None:
        return None
    return since + timedelta(seconds=settings.reconcile_interval_seconds)


def run_mode(integration: Integration, trigger: str, settings: Settings, *, now: datetime) -> str:
    """The mode of the run about to start: the requested one, else `reconcile` for a scheduled run
    whose reconcile is due, else `incremental`."""
    requested = integration.sync_requested_mode
    if requested in MODES:
        return requested
    due = reconcile_due_at(integration, settings)
    if trigger == "scheduled" and due is not None and due <= now:
        return "reconcile"
    return "incremental"


@dataclass
class ReconcileHost:
    """What a reconcile borrows from its run: the run's session factory, Classy client and write path."""

    sessionmaker: async_sessionmaker[AsyncSession]
    client: ClassyClient
    settings: Settings
    account: str
    organization_id: int
    # Runs a Classy request unless the run is being stopped.
    request: Callable[[Coroutine[Any, Any, Page]], Awaitable[Page]]
    # Upserts records of a stream through the run's page path (counts, contacts, rejects).
    commit: Callable[[Stream, list[dict[str, Any]]], Awaitable[None]]
    # Renews the lease inside a write transaction; raises when the run must stop.
    guard: Callable[[AsyncSession], Awaitable[None]]
    # Merges the contacts queued so far (marks included).
    merge_contacts: Callable[[], Awaitable[None]]
    # A switched organization's history floor (None: the whole history is wanted, as in a full run).
    history_floor: datetime | None = None


async def reconcile(host: ReconcileHost, streams: tuple[Stream, ...]) -> dict[str, dict[str, Any]]:
    """Re-read recent refunds, then find deletions stream by stream; returns what each stream did."""
    results: dict[str, dict[str, Any]] = {}
    for stream in streams:
        if stream.resource == "transactions":
            await _reread_recent_transactions(host, stream)
    for stream in streams:
        if stream.mapping.table in deletions.MARKED_TABLES:
            results[stream.name] = await _reconcile_stream(host, stream)
    # Contacts whose every source is now marked (or one is back), and people the re-read queued.
    await host.merge_contacts()
    return results


async def _reread_recent_transactions(host: ReconcileHost, stream: Stream) -> None:
    since = utc_now() - timedelta(days=host.settings.reconcile_lookback_days)
    await reread_transactions(host, stream, since=since, fields=("purchased_at", "refunded_at"))


async def reread_refunds(host: ReconcileHost, stream: Stream, *, since: datetime) -> None:
    """Re-read the transactions refunded since `since`: a webhook run's way to a refund that left
    `updated_at` alone (CLASSY_API.md 7.1 leaves that open). Usually one request that finds nothing."""
    await reread_transactions(host, stream, since=since, fields=("refunded_at",))


async def reread_transactions(
    host: ReconcileHost, stream: Stream, *, since: datetime, fields: tuple[str, ...]
) -> None:
    """Upsert the transactions whose `field` is at or after `since`, for each of `fields` (one filter
    per request); a Classy that refuses the `refunded_at` filter only costs that part."""
    since = since.replace(microsecond=0)
    path = stream.path(host.organization_id)
    for field in fields:
        page_number = 1
        while True:
            try:
                page = await host.request(
                    host.client.get_page(
                        path,
                        page=page_number,
                        per_page=WALK_PER_PAGE,
                        filter=condition(field, ">=", since),
                        sort=ID_SORT,  # ids never move, so an update during the read shifts nothing
                        with_=stream.with_,
                    )
                )
            except ClassyBadRequestError:
                if field == "purchased_at":
                    raise
                logger.warning(
                    "Classy refused a refunded_at filter; refunds arrive with updated_at, or by purchase date"
                )
                break
            if page.data:
                await host.commit(stream, page.data)
            if page.is_last or page_number >= page.last_page:
                break
            page_number += 1


async def _reconcile_stream(host: ReconcileHost, stream: Stream) -> dict[str, Any]:
    path = stream.path(host.organization_id)
    first = await host.request(host.client.get_page(path, page=1, per_page=1))
    async with host.sessionmaker() as session:
        ours = await deletions.live_count(
            session, stream.mapping, account=host.account, organization_id=host.organization_id
        )
    result: dict[str, Any] = {"classy_total": first.total, "ours": ours, "walked": False}
    if ours == first.total:
        return result
    result.update(walked=True, deleted=0, restored=0)
    try:
        await _walk_ids(host, stream, path, result)
    except (ClassyBadRequestError, UnorderedPageError) as exc:
        # The list refuses or ignores an id filter and order (the reference confirms neither): list its
        # ids page by page in its own order, and mark only from a pass that saw the list hold still.
        logger.warning("%s: %s Listing its ids whole instead.", stream.name, exc)
        ids = await _every_id(host, path)
        if ids is None:
            result["settled"] = False  # records kept moving: nothing marked, the next reconcile tries
            return result
        await _mark(host, stream, result, low=0, high=None, ids=sorted(ids))
    return result


async def _walk_ids(host: ReconcileHost, stream: Stream, path: str, result: dict[str, Any]) -> None:
    last = 0
    while True:
        page = await host.request(
            host.client.get_page(
                path,
                page=1,
                per_page=WALK_PER_PAGE,
                filter=condition("id", ">", last),
                sort=ID_SORT,
                with_=stream.with_,  # whole records as the reads store them, should one be lacking
            )
        )
        ids = _ordered_ids(page.data, after=last)
        at_end = page.is_last or not ids
        await _bring_in_missing(host, stream, page.data, ids)
        if len(ids) == len(page.data):
            await _mark(host, stream, result, low=last, high=None if at_end else ids[-1], ids=ids)
        # else: a record came without an id. It may be one of our rows, served oddly this once (it is
        # set aside when read): marking its range could mark it deleted, so this range waits.
        if at_end:
            return
        last = ids[-1]


async def _bring_in_missing(
    host: ReconcileHost, stream: Stream, records: list[dict[str, Any]], ids: list[int]
) -> None:
    """Upsert the walked records we hold no row for: a record the incremental reads missed (a rare
    shift in a heavily churned one-second block) arrives here, screened like any page. Records older
    than a switched organization's history floor stay out, as they do everywhere else."""
    if not ids:
        return
    async with host.sessionmaker() as session:
        held = await deletions.held_ids(
            session, stream.mapping, account=host.account, organization_id=host.organization_id, ids=ids
        )
    lacked = set(ids) - held
    floor = None if stream.whole_history else host.history_floor
    missing = after_floor([r for r in records if _walk_id(r) in lacked], floor)
    if missing:
        logger.warning(
            "%s: the id walk found %d records we lacked; bringing them in", stream.name, len(missing)
        )
        await host.commit(stream, missing)


async def _mark(
    host: ReconcileHost, stream: Stream, result: dict[str, Any], *, low: int, high: int | None, ids: list[int]
) -> None:
    """Classy holds exactly `ids` in `(low, high]`: mark our other rows there, unmark those returned."""
    async with host.sessionmaker() as session, session.begin():
        await host.guard(session)
        outcome = await deletions.mark_walked_ids(
            session,
            stream.mapping,
            account=host.account,
            organization_id=host.organization_id,
            low=low,
            high=high,
            ids=ids,
        )
    result["deleted"] += outcome.deleted
    result["restored"] += outcome.restored


async def _every_id(host: ReconcileHost, path: str) -> set[int] | None:
    """Every id of the list, from a pass over its pages that nothing shifted, or None.

    Offset pages shift when records are deleted, added or moved under us, and a record shifted out of
    sight would be marked deleted. A pass counts only when Classy's `total` did not change from its
    first page to its last, it served no id twice and it served `total` records in all.
    """
    for _ in range(MAX_WHOLE_PASSES):
        ids: set[int] = set()
        served, identified, total, page_number = 0, 0, None, 1
        while True:
            page = await host.request(host.client.get_page(path, page=page_number, per_page=WALK_PER_PAGE))
            total = page.total if total is None else total
            served += len(page.data)
            for record in page.data:
                if (value := _walk_id(record)) is not None:
                    ids.add(value)
                    identified += 1
            if page.is_last or not page.data:
                break
            page_number += 1
        if page.total == total == served == identified == len(ids):  # a record without an id: see _walk_ids
            return ids
    return None


def _walk_id(record: dict[str, Any]) -> int | None:
    """The record's id when it is an integer (a bool is not), else None."""
    value = record.get("id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _ordered_ids(records: list[dict[str, Any]], *, after: int) -> list[int]:
    """The page's ids, checked to be above `after` and ascending: a server that ignored the filter or
    the sort would otherwise make us mark records that exist."""
    ids: list[int] = []
    for record in records:
        value = _walk_id(record)
        if value is None:
            continue  # not an id to walk on (the caller marks nothing in this page's range)
        if value <= (ids[-1] if ids else after):
            raise UnorderedPageError(
                "Classy answered an id walk with a page that is not sorted by id above the last one."
            )
        ids.append(value)
    return ids
