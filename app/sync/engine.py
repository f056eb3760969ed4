"""One sync run of one integration: every stream of its organization, page by page, checkpointed.

Each page's rows, the contacts they touch, the stream's checkpoint, the run's live counts and our
lease renewal are committed in one transaction. A crash loses at most the page in flight; the next
run (here or on another replica, once the lease expires) resumes from the checkpoint. The reader goes
on from its position in memory, so a commit acknowledged and then lost in a database crash would let a
later checkpoint pass rows that are not there: `CommitLedger` notices any lost commit at the next
transaction and the run stops (app/sync/durability.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from app.classy import (
    ClassyAuthError,
    ClassyBadRequestError,
    ClassyClient,
    ClassyError,
    ClassyListAccessError,
    ClassyNotFoundError,
    ClassyOrganizationAccessError,
    Page,
)
from app.db.base import utc_now
from app.db.models import Integration, SyncCursor
from app.db.repositories import sync_state
from app.db.repositories.records import (
    UpsertOutcome,
    has_queued_contacts,
    is_bad_value_error,
    merge_queued_contacts,
    refresh_statistics,
    upsert_page,
)
from app.db.repositories.sync_state import INCREMENTAL, Checkpoint
from app.metrics import SYNC_PAGES, SYNC_PHASE_SECONDS, SYNC_RECORDS
from app.sync import fallback
from app.sync.beside import BesideJob
from app.sync.context import SyncContext
from app.sync.donor_links import link_donors
from app.sync.durability import CommitLedger, CommitsLost
from app.sync.group_commit import GroupCommit
from app.sync.isolation import StreamsFailed, run_isolated, stream_error
from app.sync.outage import DatabaseLost, outage_ends_every_stream
from app.sync.page_guard import PageGuard
from app.sync.prefetch import prefetch_runs
from app.sync.reconcile import RECONCILING_MODES, ReconcileHost, reconcile, reread_refunds
from app.sync.rejects import Rejects
from app.sync.rejects import split as split_rejects
from app.sync.streams import STREAMS, TRANSACTIONS, Stream
from app.sync.window import SORT, Batch, UnorderedPageError, WindowReader, read_null_block

logger = logging.getLogger(__name__)
T = TypeVar("T")
# Runs that re-read recent refunds after their lists: an event may be about a refund that left the
# transaction's updated_at alone (CLASSY_API.md 7.1). Other incremental runs leave that to the reconcile.
REFUND_REREAD_TRIGGERS = frozenset({"webhook"})

PER_PAGE = 100
# Contacts touched by pages are queued with each page and merged, beside the streams, once this many
# pages have queued some (and once at the end of the run). A merge takes the whole queue, so while one
# runs the next batch grows: merges follow one another, each small, and the last one, which the run
# waits for after its last page, stays short (at 100 pages it took 1-1.7 s, 10% of a small import).
# Except at the very end of a run paced by Classy's rate limit: once one stream is left reading and the
# app's limiter makes its requests wait, the run has time to spare between pages, and each page asks
# for a merge. The merge in flight when the last page lands then covers a page, not up to ten (in a
# rate-limited import of 60k records the merges the run waited for after its last request took 0.1 s,
# then 0.03 s); merging after every page of every stream did the same for ten times the merges.
MERGE_EVERY_PAGES = 10
# A stream's table (and the contacts) are re-analyzed once the run has inserted this many rows into it,
# then each time the run's inserts double: a handful of ANALYZEs per bulk import, none for small runs.
ANALYZE_AFTER_INSERTS = 5_000
# A page's transaction is re-derivable from Classy, so page commits do not wait for the WAL flush (a
# disk sync per page, taken while holding the integration row that every stream's page updates:
# measured 3.5-6 ms more per page alone, 7-23% of an import's time). A crash may then lose the last
# acknowledged commits, rows and checkpoint together; `CommitLedger` notices at the next transaction
# (or when the run ends) and the run stops, so the next one resumes from the checkpoint Postgres kept
# instead of this run's position in memory. `SYNC_DURABLE_COMMITS` keeps them durable (the bench's
# `durability` scenario measures both).
ASYNC_COMMIT = text("SET LOCAL synchronous_commit = off")
DURABLE_COMMIT = text("SET LOCAL synchronous_commit = on")
# Pages with nothing to write commit only their checkpoint, and only every this many in a row (the
# heartbeat renews the lease meanwhile); the read's end commits the last one.
EMPTY_PAGES_PER_CHECKPOINT = 20
# A stream's reader runs up to this many pages ahead of its writer (a transactions page is ~270 KB of
# JSON): reading goes on while a page transaction waits or runs. When the writer is behind, the pages
# it finds waiting (up to GROUP_PAGES) are written in one transaction with one statement and the last
# page's checkpoint: a page's fixed costs (statement, lease update, commit, triggers' statement-level
# work) are then paid once per group.
PREFETCH_PAGES = 4
GROUP_PAGES = 4


class SyncStopped(Exception):
    """The integration was paused or disconnected, or our lease was lost: stop at this page boundary."""


# Failures that concern every stream end the whole run; any other failure ends only its stream.
STOPS_EVERY_STREAM: tuple[type[BaseException], ...] = (
    SyncStopped,
    ClassyAuthError,
    ClassyOrganizationAccessError,
    CommitsLost,
    DatabaseLost,
)


@dataclass
class StreamCounts:
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    # How the list was read (`incremental`, `by_id`, `whole`) and, if it failed, why.
    read: str | None = None
    error: str | None = None
    rejected: int = 0
    # What a reconcile found (Classy's total, ours, whether ids were walked, rows marked and unmarked).
    reconcile: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        counts: dict[str, Any] = {
            "fetched": self.fetched,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
        }
        if self.read is not None:
            counts["read"] = self.read
        if self.error is not None:
            counts["error"] = self.error
        if self.reconcile is not None:
            counts["reconcile"] = self.reconcile
        return counts


class IntegrationSync:
    """Syncs one leased integration; `run()` reads every stream and records the outcome."""

    def __init__(
        self,
        ctx: SyncContext,
        integration: Integration,
        run_id: int,
        client: ClassyClient,
        stop: asyncio.Event | None = None,
        mode: str = "incremental",
        trigger: str = "scheduled",
    ) -> None:
        self.ctx = ctx
        self.trigger = trigger
        # Where the last complete read of transactions ended (read with the cursors when the run starts).
        self._refunds_read_through: datetime | None = None
        self._commit_mode = DURABLE_COMMIT if ctx.settings.sync_durable_commits else ASYNC_COMMIT
        # incremental | reconcile | full: reconcile and full runs read fallback lists whole, then
        # reconcile (reconcile.py); a full run reads every list from the beginning.
        self.mode = mode
        self._full_read: set[str] = set()
        self.stop = stop or asyncio.Event()
        self.integration_id = integration.id
        self.account = integration.account
        self.organization_id = int(integration.organization_id or 0)
        self.history_floor_at = integration.history_floor_at
        self.run_id = run_id
        self.client = client
        self.ledger = CommitLedger(integration.sync_commits)
        self.counts: dict[str, StreamCounts] = {}
        self.analyze_due: dict[str, int] = {}
        self.pages_since_merge = 0
        self.contact_pages = 0  # pages that queued contacts, this run
        self._reading: set[str] = set()  # the streams still reading their lists
        self._organization_probe = asyncio.Lock()
        self._organization_read: bool | None = None  # None: not asked this run
        # Streams are read and written concurrently: each writes its own table and appends contact
        # keys to an unconstrained queue, so page transactions only queue briefly for the integration
        # row (the lease), never for a merge. Merges update contacts and donations: one at a time.
        self._merging = asyncio.Lock()
        # Merges every MERGE_EVERY_PAGES pages and ANALYZEs run beside the streams (beside.py).
        self._merges = BesideJob(self._merge_contacts, name=f"contact-merge-{integration.id}")
        self._analyze_tables: set[str] = set()
        self._analyses = BesideJob(self._analyze, name=f"analyze-{integration.id}")
        # Windows end with the second the run starts in (Classy stamps whole seconds): changes made
        # before the run started are all inside; later ones are the next run's (its lookback re-reads
        # this second too).
        self.started_at = utc_now()
        self.window_end = self.started_at.replace(microsecond=0) + timedelta(seconds=1)
        self.rejects = Rejects(ctx, integration_id=self.integration_id, run_id=run_id, count=self._rejected)
        self.page_guard = PageGuard()
        # Every stream's stored cursor, read in one query when the run starts (`_run`).
        self._cursors: dict[str, SyncCursor] | None = None
        # Checkpoints saved between reads: those of streams finishing together share a transaction.
        self._checkpoints: GroupCommit[tuple[Stream, Checkpoint]] = GroupCommit(self._commit_checkpoints)

    async def run(self) -> None:
        """Read every stream, concurrently (their Classy requests overlap; the limiter is shared).

        A stream that fails is recorded on its counts and the others finish; the run then raises
        StreamsFailed naming it. Stops, a lost lease and refused credentials end every stream at once.
        """
        try:
            await self._run()
        finally:
            await self._merges.cancel()
            await self._analyses.cancel()

    async def _run(self) -> None:
        for stream in STREAMS:
            self.counts[stream.name] = StreamCounts()
        async with self.ctx.sessionmaker() as session:
            self._cursors = await sync_state.get_cursors(
                session, integration_id=self.integration_id, organization_id=self.organization_id
            )
        transactions = self._cursors.get(TRANSACTIONS.name)
        if transactions is not None:
            self._refunds_read_through = sync_state.checkpoint_of(transactions).completed_through
        jobs = {stream.name: outage_ends_every_stream(self._read_stream(stream)) for stream in STREAMS}
        failures = await run_isolated(jobs, fatal=STOPS_EVERY_STREAM)
        await self._merges.settle()
        await self._analyses.settle()
        for name, exc in failures.items():
            self.counts[name].error = stream_error(name, exc)
        if not failures:  # every list read: what earlier runs set aside, then donors no window brought
            await self.rejects.retry(self.client, self._commit_records)
        await self._merge_contacts(if_queued=True)  # anything still queued, e.g. by a run that crashed
        if failures:
            errors = {name: self.counts[name].error or "" for name in failures}
            raise StreamsFailed(errors, others_synced=len(failures) < len(STREAMS))
        fed = self.contact_pages
        linked = await link_donors(
            self.ctx,
            self.client,
            account=self.account,
            organization_id=self.organization_id,
            since=self.started_at,
            commit=self._commit_records,
            rejects=self.rejects,
        )
        if linked or self.contact_pages != fed:  # only then can anything be queued since the merge above
            await self._merge_contacts(if_queued=True)
        if self.mode in RECONCILING_MODES:
            for name, found in (await reconcile(self._reconcile_host(), STREAMS)).items():
                self.counts[name].reconcile = found
        elif self.trigger in REFUND_REREAD_TRIGGERS and self._refunds_read_through is not None:
            # The event may be a refund that did not move the transaction's updated_at: re-read what
            # was refunded since the previous read of transactions ended (its window's end, the start
            # of the run that made it), so a refund during a long run is not left to the reconcile.
            since = self._refunds_read_through - timedelta(seconds=self.ctx.settings.sync_lookback_seconds)
            await reread_refunds(self._reconcile_host(), TRANSACTIONS, since=since)
            await self._merge_contacts(if_queued=True)

    async def _read_stream(self, stream: Stream) -> None:
        self._reading.add(stream.name)
        try:
            await self._sync_stream(stream)
        except ClassyOrganizationAccessError as exc:
            # A 403 names one entity (CLASSY_API.md §5): permissions may leave one list out. Only
            # when the organization itself is unreadable does it concern every stream.
            if await self._organization_readable() is False:
                raise
            raise ClassyListAccessError(
                "Classy does not allow this app to read them (HTTP 403), though it reads the "
                "organization; check the app's permissions in Classy.",
                status_code=exc.status_code,
            ) from exc
        finally:
            self._reading.discard(stream.name)

    async def _organization_readable(self) -> bool | None:
        """Whether Classy lets this app read the organization (asked once a run, when a list says 403);
        None when the question got no answer (Classy busy or failing): only that list fails then."""
        async with self._organization_probe:
            if self._organization_read is None:
                try:
                    await self._unless_stopped(self.client.read_organization(self.organization_id))
                    self._organization_read = True
                except (ClassyOrganizationAccessError, ClassyNotFoundError):
                    self._organization_read = False
                except ClassyError:
                    return None
            return self._organization_read

    def _last_paced_stream(self, stream: Stream) -> bool:
        """Whether no other stream is reading and Classy's rate limit sets the pace (MERGE_EVERY_PAGES)."""
        return self._reading <= {stream.name} and self.client.limiter.pacing

    async def _commit_records(self, stream: Stream, records: list[dict[str, Any]]) -> None:
        """Upsert records read outside a stream's pages (reconcile, refunds, donors, retried rejects).

        Like a page's, the records that cannot be identified or placed are set aside, never written:
        one such record must not fail the run (API.md §4).
        """
        good, bad = split_rejects(stream, records)
        await self.rejects.save(stream, bad)
        if good or not bad:
            await self._commit(stream, good, None)

    def _rejected(self, stream: Stream, count: int) -> None:
        self.counts[stream.name].rejected += count
        SYNC_RECORDS.labels(stream.name, "rejected").inc(count)

    def _reconcile_host(self) -> ReconcileHost:
        return ReconcileHost(
            self.ctx.sessionmaker,
            self.client,
            self.ctx.settings,
            self.account,
            self.organization_id,
            request=self._unless_stopped,
            commit=self._commit_records,
            guard=self._record_progress,
            merge_contacts=self._merge_contacts,
            history_floor=None if self.mode == "full" else self.history_floor_at,
        )

    async def _sync_stream(self, stream: Stream) -> None:
        """Finish a read left in progress, then read the list once more up to this run's start.

        A run always reads once, even when the last run ended in this same second (its changes may be
        stamped with it). A read refused because the list ignores our query falls back (fallback.py).
        """
        cp = await self._load_checkpoint(stream)
        floor = None if self.mode == "full" else cp.history_floor  # a full run: the whole history
        if cp.fallback is None and stream.nullable_updated_at:
            try:
                await self._read_nulls(stream, floor)
            except ClassyBadRequestError as exc:  # refuses to sort by updated_at: fallback reads hold nulls
                if not fallback.refuses_query(exc, cp):
                    raise
                cp = await self._fall_back(stream, cp, exc)
        while True:
            resumed = cp.in_progress
            if not resumed:
                cp = fallback.next_read(
                    cp,
                    mode=self.mode,
                    window_end=self.window_end,
                    lookback=timedelta(seconds=self.ctx.settings.sync_lookback_seconds),
                    now=utc_now(),
                )
                cp = self._full_history(stream, cp)
            self._note_full_read(stream, cp)
            self.counts[stream.name].read = cp.read
            try:
                empty = 0
                pages = prefetch_runs(self._reader(stream, cp), depth=PREFETCH_PAGES, most=GROUP_PAGES)
                async for group in pages:
                    records: list[dict[str, Any]] = []
                    for batch in group:
                        if cp.read != INCREMENTAL:  # no date filter: drop what a reconnection excludes
                            records += fallback.after_floor(batch.records, floor)
                        else:
                            records += batch.records
                    # Pages with nothing to write move only the checkpoint, which the read's end (or
                    # the next page with rows) commits: a quiet run writes no page transactions. Long
                    # stretches of such pages still commit their position now and then.
                    empty = 0 if records else empty + len(group)
                    if records or empty >= EMPTY_PAGES_PER_CHECKPOINT:
                        await self._commit(stream, records, group[-1], pages=len(group))
                        empty = 0
                    cp = group[-1].checkpoint
            except (UnorderedPageError, ClassyBadRequestError) as exc:
                if isinstance(exc, ClassyBadRequestError) and not fallback.refuses_query(exc, cp):
                    raise
                cp = await self._fall_back(stream, cp, exc)
                continue
            caught_up = cp.window_end is not None and cp.window_end >= self.window_end
            cp = fallback.finished(cp)
            await self._save_checkpoint(stream, cp)
            if not resumed or caught_up:
                return

    async def _fall_back(self, stream: Stream, cp: Checkpoint, why: Exception) -> Checkpoint:
        """Read the list another way from now on: it ignored our query (UnorderedPageError) or refused
        it (a 400: the reference confirms filtering and sorting by updated_at on only some lists)."""
        cp = fallback.fall_back(cp, cp.read, utc_now())
        how = "by id" if cp.fallback == sync_state.BY_ID else "whole"
        logger.warning("%s: %s. Reading it %s from now on.", stream.name, str(why).rstrip("."), how)
        await self._save_checkpoint(stream, cp)
        return cp

    def _full_history(self, stream: Stream, cp: Checkpoint) -> Checkpoint:
        """In a full run, the first window read of a list starts at the beginning, whatever the history
        floor and the completed cursor say (upserts: nothing doubled). It ends where an incremental one
        would, so incremental runs continue from there."""
        if self.mode != "full" or stream.name in self._full_read or cp.read != INCREMENTAL:
            return cp
        return replace(cp, window_start=fallback.EPOCH)

    def _note_full_read(self, stream: Stream, cp: Checkpoint) -> None:
        if cp.read == INCREMENTAL and cp.window_start is not None and cp.window_start <= fallback.EPOCH:
            self._full_read.add(stream.name)  # this run reads (or resumes a read of) the whole history

    def _reader(self, stream: Stream, cp: Checkpoint) -> AsyncIterator[Batch]:
        if cp.read == INCREMENTAL:
            return WindowReader(self._fetcher(stream), cp).batches()
        return fallback.reader(self._query_fetcher(stream), cp)

    async def _load_checkpoint(self, stream: Stream) -> Checkpoint:
        """The stream's stored checkpoint; a first read takes the integration's history floor."""
        assert self._cursors is not None, "the cursors are loaded when the run starts (_run)"
        cursor = self._cursors.get(stream.name)
        cp = sync_state.checkpoint_of(cursor)
        if cursor is None and not stream.whole_history:
            # Reconnected to another organization: its records since then, never its older history.
            cp = replace(cp, history_floor=self.history_floor_at)
        return cp

    async def _save_checkpoint(self, stream: Stream, cp: Checkpoint) -> None:
        """Commit a checkpoint between reads; streams that save theirs at the same time share one
        transaction (group_commit.py).

        The contacts the stream queued are not merged here: the queue is a table, committed with the
        pages, and the run merges whatever is left once every stream has ended (`_run`). A merge per
        stream end was two or three merges in a run that changed a few records, where one does.
        """
        await self._checkpoints.save(stream.name, (stream, cp))

    async def _commit_checkpoints(self, saved: dict[str, tuple[Stream, Checkpoint]]) -> None:
        async with self.ctx.sessionmaker() as session, session.begin():
            await self._record_progress(
                session, positions={name: cp for name, (_, cp) in saved.items()}, with_counts=True
            )

    def _fetcher(self, stream: Stream) -> Callable[[int, str | None], Awaitable[Page]]:
        fetch = self._query_fetcher(stream)

        async def by_updated_at(page: int, flt: str | None) -> Page:
            return await fetch(page, flt, SORT)

        return by_updated_at

    def _query_fetcher(self, stream: Stream) -> fallback.FetchQuery:
        path = stream.path(self.organization_id)

        async def fetch_raw(page: int, flt: str | None, sort: str | None) -> Page:
            started = time.perf_counter()
            result = await self._unless_stopped(
                self.client.get_page(
                    path, page=page, per_page=PER_PAGE, filter=flt, sort=sort, with_=stream.with_
                )
            )
            SYNC_PHASE_SECONDS.labels(stream.name, "fetch").inc(time.perf_counter() - started)
            SYNC_PAGES.labels(stream.name).inc()
            self.page_guard.check(path, f"{flt or ''}|{sort or ''}", page, result)
            return result

        async def fetch(page: int, flt: str | None, sort: str | None) -> Page:
            return await self.rejects.screen(
                stream, await fetch_raw(page, flt, sort), lambda n: fetch_raw(n, flt, sort)
            )

        return fetch

    async def _read_nulls(self, stream: Stream, floor: datetime | None) -> None:
        path = stream.path(self.organization_id)

        async def fetch_raw(page: int, per_page: int, sort: str = SORT) -> Page:
            result = await self._unless_stopped(
                self.client.get_page(path, page=page, per_page=per_page, sort=sort, with_=stream.with_)
            )
            self.page_guard.check(path, f"{sort}/{per_page}", page, result)
            return result

        async def fetch(page: int, per_page: int, sort: str = SORT) -> Page:
            return await self.rejects.screen(
                stream, await fetch_raw(page, per_page, sort), lambda n: fetch_raw(n, per_page, sort)
            )

        async for records in read_null_block(fetch, per_page=PER_PAGE):
            # With no updated_at, creation decides whether a record is "older history".
            records = fallback.after_floor(records, floor)
            if records:
                await self._commit(stream, records, None)

    async def _unless_stopped(self, request: Coroutine[Any, Any, T]) -> T:
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
        position: Checkpoint | None = None,
        *,
        with_counts: bool = False,
        positions: dict[str, Checkpoint] | None = None,
    ) -> None:
        """Renew the lease, move cursors (and the run's counts); stop if the lease is not ours.

        Page transactions leave the run's counts alone (every stream would contend for that one row);
        merges and window ends, which run alone, publish them: live progress every few pages.
        """
        lease = await sync_state.record_progress(
            session,
            integration_id=self.integration_id,
            worker=self.ctx.worker,
            lease_seconds=self.ctx.settings.sync_lease_seconds,
            run_id=self.run_id,
            streams={name: c.as_dict() for name, c in self.counts.items()} if with_counts else None,
            organization_id=self.organization_id,
            stream=stream.name if stream else None,
            position=position,
            positions=positions,
        )
        if lease is None:
            raise SyncStopped("Another worker took over this integration's sync.")
        self.ledger.check(lease.commits)
        commits = lease.commits
        # Known once acknowledged: a rollback (this very pause, a cancelled write) takes it back.
        event.listen(
            session.sync_session, "after_commit", lambda _: self.ledger.committed(commits), once=True
        )
        if lease.status not in sync_state.SYNCABLE_STATUSES:
            raise SyncStopped(f"The integration is {lease.status}.")

    async def _commit(
        self, stream: Stream, records: list[dict[str, Any]], batch: Batch | None, *, pages: int = 1
    ) -> None:
        """Upsert pages and move the checkpoint of the last, in one transaction (retried with safe casts).

        A contact merge or ANALYZE it makes due runs beside the stream; one that failed fails it here.
        """
        self._merges.check()
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
            self.contact_pages += pages
            self.pages_since_merge += pages
            if self.pages_since_merge >= MERGE_EVERY_PAGES or self._last_paced_stream(stream):
                self._merges.request()
        if outcome.inserted:
            self._refresh_statistics(stream, self.counts[stream.name].inserted)

    async def _write_page(
        self, stream: Stream, records: list[dict[str, Any]], batch: Batch | None, *, safe_casts: bool
    ) -> UpsertOutcome:
        started = time.perf_counter()
        async with self.ctx.sessionmaker() as session, session.begin():
            await session.execute(self._commit_mode)
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
            position = batch.checkpoint if batch is not None else None
            try:
                await self._record_progress(session, stream if position else None, position)
            except BaseException:
                counts.fetched, counts.inserted, counts.updated, counts.unchanged = totals
                raise
        SYNC_PHASE_SECONDS.labels(stream.name, "write").inc(written - started)
        SYNC_PHASE_SECONDS.labels(stream.name, "checkpoint").inc(time.perf_counter() - written)
        return outcome

    async def _merge_contacts(self, stream: Stream | None = None, *, if_queued: bool = False) -> None:
        """Merge the contacts queued by the pages so far (set-based, one transaction).

        `if_queued`: first look whether anything is queued at all (a run that changed nothing, the
        usual incremental run, then skips the merge's transaction and its eight statements)."""
        started = time.perf_counter()
        if if_queued and not self.pages_since_merge:
            async with self.ctx.sessionmaker() as session:
                if not await has_queued_contacts(session, account=self.account):
                    return
        async with self._merging, self.ctx.sessionmaker() as session, session.begin():
            # Pages committed from here on may miss this merge: they count towards the next one.
            self.pages_since_merge = 0
            await session.execute(self._commit_mode)
            await merge_queued_contacts(session, account=self.account)
            await self._record_progress(session, with_counts=True)
        SYNC_PHASE_SECONDS.labels(stream.name if stream else "all", "contacts").inc(
            time.perf_counter() - started
        )

    def _refresh_statistics(self, stream: Stream, inserted: int) -> None:
        """Keep the planner's row estimates in step with a bulk import (see `refresh_statistics`)."""
        if inserted < self.analyze_due.get(stream.name, ANALYZE_AFTER_INSERTS):
            return
        self.analyze_due[stream.name] = inserted * 2
        self._analyze_tables.update([stream.mapping.table, *(["contact"] if stream.feeds_contacts else [])])
        self._analyses.request()

    async def _analyze(self) -> None:
        tables, self._analyze_tables = sorted(self._analyze_tables), set()
        started = time.perf_counter()
        try:
            async with self.ctx.sessionmaker() as session, session.begin():
                await refresh_statistics(session, tables)
        except SQLAlchemyError:  # statistics are an optimisation: never fail a sync over them
            logger.warning("could not analyze %s", ", ".join(tables), exc_info=True)
        SYNC_PHASE_SECONDS.labels("all", "analyze").inc(time.perf_counter() - started)
