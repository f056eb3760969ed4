"""One sync run of one integration: every stream of its organization, page by page, checkpointed.

Each page's rows, the contacts they touch, the stream's checkpoint, the run's live counts and our
lease renewal are committed in one transaction. A crash loses at most the page in flight; the next
run (here or on another replica, once the lease expires) resumes from the checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from app.classy import ClassyClient, Page
from app.classy.timestamps import parse_timestamp
from app.db.base import utc_now
from app.db.models import Integration, SyncCursor
from app.db.repositories import sync_state
from app.db.repositories.records import (
    UpsertOutcome,
    is_bad_value_error,
    merge_queued_contacts,
    refresh_statistics,
    upsert_page,
)
from app.metrics import SYNC_PAGES, SYNC_PHASE_SECONDS, SYNC_RECORDS
from app.sync.context import SyncContext
from app.sync.prefetch import prefetch
from app.sync.streams import STREAMS, Stream
from app.sync.window import SORT, Batch, Checkpoint, WindowReader, read_null_block

logger = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PER_PAGE = 100
# Contacts touched by pages are queued with each page and merged every this many pages (and at the
# end of each stream): one set-based merge costs little more than a per-page one.
MERGE_EVERY_PAGES = 100
# A stream's table (and the contacts) are re-analyzed once the run has inserted this many rows into it,
# then each time the run's inserts double: a handful of ANALYZEs per bulk import, none for small runs.
ANALYZE_AFTER_INSERTS = 5_000
# A page's transaction is re-derivable from Classy: if Postgres itself crashes, losing the last few
# hundred milliseconds of commits loses rows and their checkpoint together, and the next run re-reads
# those pages. So page commits need not wait for the WAL flush (a disk sync per page).
ASYNC_COMMIT = text("SET LOCAL synchronous_commit = off")


class SyncStopped(Exception):
    """The integration was paused or disconnected, or our lease was lost: stop at this page boundary."""


@dataclass
class StreamCounts:
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "fetched": self.fetched,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
        }


class IntegrationSync:
    """Syncs one leased integration; `run()` reads every stream and records the outcome."""

    def __init__(
        self,
        ctx: SyncContext,
        integration: Integration,
        run_id: int,
        client: ClassyClient,
        stop: asyncio.Event | None = None,
    ) -> None:
        self.ctx = ctx
        self.stop = stop or asyncio.Event()
        self.integration_id = integration.id
        self.account = integration.account
        self.organization_id = int(integration.organization_id or 0)
        self.history_floor_at = integration.history_floor_at
        self.run_id = run_id
        self.client = client
        self.counts: dict[str, StreamCounts] = {}
        self.floors: dict[str, datetime | None] = {}
        # Streams that have read a window up to this run's end (a run always reads at least one,
        # even when the last run ended in this same second: its changes may be stamped with it).
        self._windows_read: dict[str, bool] = {}
        self.analyze_due: dict[str, int] = {}
        self.pages_since_merge = 0
        # Streams are read and written concurrently: each writes its own table and appends contact
        # keys to an unconstrained queue, so page transactions only queue briefly for the integration
        # row (the lease), never for a merge. Merges update contacts and donations: one at a time.
        self._merging = asyncio.Lock()
        # Windows end with the second the run starts in (Classy stamps whole seconds): changes made
        # before the run started are all inside; later ones are the next run's (its lookback re-reads
        # this second too).
        self.window_end = utc_now().replace(microsecond=0) + timedelta(seconds=1)

    async def run(self) -> None:
        """Read every stream, concurrently (their Classy requests overlap; the limiter is shared)."""
        for stream in STREAMS:
            self.counts[stream.name] = StreamCounts()
        await _first_failure([self._sync_stream(stream) for stream in STREAMS])
        await self._merge_contacts()  # anything still queued, e.g. by a run that crashed

    async def _sync_stream(self, stream: Stream) -> None:
        if stream.nullable_updated_at:
            await self._read_nulls(stream, await self._history_floor(stream))
        while True:
            checkpoint = await self._open_window(stream)
            if checkpoint is None:
                return
            reader = WindowReader(self._fetcher(stream), checkpoint)
            async for batch in prefetch(reader.batches()):
                await self._commit(stream, batch.records, batch)
            await self._close_window(stream, checkpoint.window_end)
            self._windows_read[stream.name] = True

    async def _load_cursor(self, stream: Stream) -> SyncCursor | None:
        async with self.ctx.sessionmaker() as session:
            return await sync_state.get_cursor(
                session,
                integration_id=self.integration_id,
                organization_id=self.organization_id,
                stream=stream.name,
            )

    async def _history_floor(self, stream: Stream) -> datetime | None:
        """The date before which this organization's records are never imported (reconnect to another)."""
        if stream.name not in self.floors:
            cursor = await self._load_cursor(stream)
            if cursor is None:
                self.floors[stream.name] = self.history_floor_at
            else:
                self.floors[stream.name] = sync_state.cursor_position(cursor).history_floor
        return self.floors[stream.name]

    async def _open_window(self, stream: Stream) -> Checkpoint | None:
        """The window to read next: an interrupted one, else from the last completed end up to now."""
        floor = await self._history_floor(stream)
        cursor = await self._load_cursor(stream)
        if cursor is not None and cursor.window_start is not None and cursor.window_end is not None:
            position = sync_state.cursor_position(cursor)
            return Checkpoint(
                window_start=cursor.window_start,
                window_end=cursor.window_end,
                position_ts=position.position_ts,
                position_id=position.position_id,
                block_pass=position.block_pass,
                block_page=position.block_page,
            )
        completed = cursor.completed_through if cursor is not None else None
        if completed is not None and completed >= self.window_end and self._windows_read.get(stream.name):
            return None  # this run has already read up to its end (after finishing an interrupted window)
        lookback = timedelta(seconds=self.ctx.settings.sync_lookback_seconds)
        if completed is not None:
            start = completed - lookback
        elif floor is not None:
            # Reconnected to another organization: its records since then, never its older history.
            start = floor.replace(microsecond=0)
        else:
            start = EPOCH
        return Checkpoint(window_start=start, window_end=self.window_end)

    async def _close_window(self, stream: Stream, window_end: datetime) -> None:
        if self.pages_since_merge:
            await self._merge_contacts(stream)
        async with self.ctx.sessionmaker() as session, session.begin():
            position = sync_state.CursorPosition(
                None, None, None, None, None, None, window_end, self.floors.get(stream.name)
            )
            await self._record_progress(session, stream, position, with_counts=True)

    def _fetcher(self, stream: Stream) -> Callable[[int, str | None], Awaitable[Page]]:
        path = stream.path(self.organization_id)

        async def fetch(page: int, flt: str | None) -> Page:
            started = time.perf_counter()
            result = await self._unless_stopped(
                self.client.get_page(
                    path, page=page, per_page=PER_PAGE, filter=flt, sort=SORT, with_=stream.with_
                )
            )
            SYNC_PHASE_SECONDS.labels(stream.name, "fetch").inc(time.perf_counter() - started)
            SYNC_PAGES.labels(stream.name).inc()
            return result

        return fetch

    async def _read_nulls(self, stream: Stream, floor: datetime | None) -> None:
        path = stream.path(self.organization_id)

        async def fetch(page: int, per_page: int, sort: str = SORT) -> Page:
            return await self._unless_stopped(
                self.client.get_page(path, page=page, per_page=per_page, sort=sort, with_=stream.with_)
            )

        async for records in read_null_block(fetch, per_page=PER_PAGE):
            if floor is not None:
                # With no updated_at, creation decides whether a record is "older history".
                records = [r for r in records if (created := _created_at(r)) is None or created >= floor]
            if records:
                await self._commit(stream, records, None)

    async def _unless_stopped(self, request: Coroutine[Any, Any, Page]) -> Page:
        """Run a Classy request, abandoning it (and its retry waits) as soon as a stop is requested."""
        fetching = asyncio.ensure_future(request)
        if not self.stop.is_set():
            stopping = asyncio.ensure_future(self.stop.wait())
            try:
                await asyncio.wait({fetching, stopping}, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                fetching.cancel()
                raise
            finally:
                stopping.cancel()
        if fetching.done():
            return fetching.result()
        fetching.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await fetching
        raise SyncStopped("The integration was paused or disconnected.")

    async def _record_progress(
        self,
        session: AsyncSession,
        stream: Stream | None = None,
        position: sync_state.CursorPosition | None = None,
        *,
        with_counts: bool = False,
    ) -> None:
        """Renew the lease, move the cursor (and the run's counts); stop if the lease is not ours.

        Page transactions leave the run's counts alone (every stream would contend for that one row);
        merges and window ends, which run alone, publish them: live progress every few pages.
        """
        status = await sync_state.record_progress(
            session,
            integration_id=self.integration_id,
            worker=self.ctx.worker,
            lease_seconds=self.ctx.settings.sync_lease_seconds,
            run_id=self.run_id,
            streams={name: c.as_dict() for name, c in self.counts.items()} if with_counts else None,
            organization_id=self.organization_id,
            stream=stream.name if stream else None,
            position=position,
        )
        if status is None:
            raise SyncStopped("Another worker took over this integration's sync.")
        if status not in sync_state.SYNCABLE_STATUSES:
            raise SyncStopped(f"The integration is {status}.")

    async def _commit(self, stream: Stream, records: list[dict[str, Any]], batch: Batch | None) -> None:
        """Upsert one page and move its checkpoint, in one transaction (retried with safe casts)."""
        try:
            outcome = await self._write_page(stream, records, batch, safe_casts=False)
        except DBAPIError as exc:
            if not is_bad_value_error(exc):
                raise
            logger.warning("a page held a value Postgres cannot store; writing it with safe casts")
            outcome = await self._write_page(stream, records, batch, safe_casts=True)
        for outcome_name, value in (
            ("inserted", outcome.inserted),
            ("updated", outcome.updated),
            ("unchanged", outcome.unchanged),
        ):
            if value:
                SYNC_RECORDS.labels(stream.name, outcome_name).inc(value)
        if stream.feeds_contacts and (outcome.inserted or outcome.updated):
            self.pages_since_merge += 1
            if self.pages_since_merge >= MERGE_EVERY_PAGES:
                await self._merge_contacts(stream)
        if outcome.inserted:
            await self._refresh_statistics(stream, self.counts[stream.name].inserted)

    async def _write_page(
        self, stream: Stream, records: list[dict[str, Any]], batch: Batch | None, *, safe_casts: bool
    ) -> UpsertOutcome:
        started = time.perf_counter()
        async with self.ctx.sessionmaker() as session, session.begin():
            await session.execute(ASYNC_COMMIT)
            outcome = await upsert_page(
                session,
                stream.mapping,
                account=self.account,
                organization_id=self.organization_id,
                records=records,
                safe_casts=safe_casts,
            )
            written = time.perf_counter()
            counts = self.counts[stream.name]
            totals = (counts.fetched, counts.inserted, counts.updated, counts.unchanged)
            counts.fetched += len(records)
            counts.inserted += outcome.inserted
            counts.updated += outcome.updated
            counts.unchanged += outcome.unchanged
            position = None
            if batch is not None:
                cp = batch.checkpoint
                position = sync_state.CursorPosition(
                    cp.window_start,
                    cp.window_end,
                    cp.position_ts,
                    cp.position_id,
                    cp.block_pass,
                    cp.block_page,
                    None,
                    self.floors.get(stream.name),
                )
            try:
                await self._record_progress(session, stream if position else None, position)
            except BaseException:
                counts.fetched, counts.inserted, counts.updated, counts.unchanged = totals
                raise
        SYNC_PHASE_SECONDS.labels(stream.name, "write").inc(written - started)
        SYNC_PHASE_SECONDS.labels(stream.name, "checkpoint").inc(time.perf_counter() - written)
        return outcome

    async def _merge_contacts(self, stream: Stream | None = None) -> None:
        """Merge the contacts queued by the pages so far (set-based, one transaction)."""
        started = time.perf_counter()
        async with self._merging, self.ctx.sessionmaker() as session, session.begin():
            await session.execute(ASYNC_COMMIT)
            await merge_queued_contacts(session, account=self.account)
            await self._record_progress(session, with_counts=True)
        self.pages_since_merge = 0
        SYNC_PHASE_SECONDS.labels(stream.name if stream else "all", "contacts").inc(
            time.perf_counter() - started
        )

    async def _refresh_statistics(self, stream: Stream, inserted: int) -> None:
        """Keep the planner's row estimates in step with a bulk import (see `refresh_statistics`)."""
        if inserted < self.analyze_due.get(stream.name, ANALYZE_AFTER_INSERTS):
            return
        self.analyze_due[stream.name] = inserted * 2
        tables = [stream.mapping.table, *(["contact"] if stream.feeds_contacts else [])]
        started = time.perf_counter()
        try:
            async with self.ctx.sessionmaker() as session, session.begin():
                await refresh_statistics(session, tables)
        except SQLAlchemyError:  # statistics are an optimisation: never fail a sync over them
            logger.warning("could not analyze %s", ", ".join(tables), exc_info=True)
        SYNC_PHASE_SECONDS.labels(stream.name, "analyze").inc(time.perf_counter() - started)


async def _first_failure(jobs: list[Coroutine[Any, Any, None]]) -> None:
    """Run jobs together; the first to fail cancels the rest and its exception is raised as is."""
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


def _created_at(record: dict[str, Any]) -> datetime | None:
    value = record.get("created_at")
    try:
        return parse_timestamp(value) if isinstance(value, str) and value else None
    except ValueError:
        return None
