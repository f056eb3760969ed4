"""Leases, cursors and run records of the sync engine (all SQL of the scheduler lives here)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import utc_now
from app.db.models import Integration, IntegrationStatus, SyncCursor, SyncRun

SYNCABLE_STATUSES = (IntegrationStatus.CONNECTED, IntegrationStatus.ERROR)
INTERRUPTED = (
    "The worker running this sync stopped before it finished; the next run resumes from its checkpoint."
)

# The statuses spelled out from the enum (constants the planner sees, not parameters).
_SYNCABLE_SQL = ", ".join(f"'{status.value}'" for status in SYNCABLE_STATUSES)
_CLAIM = text(
    f"""
WITH due AS (
    SELECT id FROM integration
    WHERE status IN ({_SYNCABLE_SQL})
      AND coalesce(next_sync_at, '-infinity') <= now()
      AND (lease_expires_at IS NULL OR lease_expires_at < now())
    ORDER BY next_sync_at NULLS FIRST
    FOR UPDATE SKIP LOCKED
    LIMIT :limit
)
UPDATE integration i
SET lease_owner = :worker, lease_expires_at = now() + make_interval(secs => :lease_seconds)
FROM due WHERE i.id = due.id
RETURNING i.id
"""
)


async def claim_due_integrations(
    session: AsyncSession, *, worker: str, lease_seconds: int, limit: int
) -> list[int]:
    """Lease up to `limit` due integrations to `worker`; a crashed worker's expired lease is taken over."""
    ids = [
        row.id
        for row in await session.execute(
            _CLAIM, {"worker": worker, "lease_seconds": lease_seconds, "limit": limit}
        )
    ]
    if ids:
        await session.execute(
            update(SyncRun)
            .where(SyncRun.integration_id.in_(ids), SyncRun.status == "running")
            .values(status="failed", error=INTERRUPTED, finished_at=utc_now())
        )
    return ids


async def renew_lease(
    session: AsyncSession, *, integration_id: int, worker: str, lease_seconds: int
) -> str | None:
    """Extend our lease and return the integration's status; None when the lease is no longer ours.

    The expiry is reckoned by the database's clock, like claims: replicas' clocks may disagree.
    """
    result = await session.execute(
        update(Integration)
        .where(Integration.id == integration_id, Integration.lease_owner == worker)
        .values(lease_expires_at=func.now() + timedelta(seconds=lease_seconds))
        .returning(Integration.status)
    )
    return result.scalar_one_or_none()


async def release_lease(session: AsyncSession, *, integration_id: int, worker: str, **values: Any) -> bool:
    """Give the lease back, setting `values` on the integration; False when it was not ours any more."""
    result = await session.execute(
        update(Integration)
        .where(Integration.id == integration_id, Integration.lease_owner == worker)
        .values(lease_owner=None, lease_expires_at=None, **values)
        .returning(Integration.id)
    )
    return result.scalar_one_or_none() is not None


async def get_integration(
    session: AsyncSession, integration_id: int, *, lock: bool = False
) -> Integration | None:
    """The integration's current row; `lock` holds it (FOR UPDATE) until the transaction ends."""
    return await session.get(Integration, integration_id, populate_existing=True, with_for_update=lock)


async def get_cursor(
    session: AsyncSession, *, integration_id: int, organization_id: int, stream: str
) -> SyncCursor | None:
    return await session.get(SyncCursor, (integration_id, organization_id, stream), populate_existing=True)


async def get_cursors(
    session: AsyncSession, *, integration_id: int, organization_id: int
) -> dict[str, SyncCursor]:
    """Every stream's cursor of one organization, by stream: a run loads them in one query."""
    rows = await session.scalars(
        select(SyncCursor)
        .where(SyncCursor.integration_id == integration_id, SyncCursor.organization_id == organization_id)
        .execution_options(populate_existing=True)
    )
    return {cursor.stream: cursor for cursor in rows}


INCREMENTAL, BY_ID, WHOLE = "incremental", "by_id", "whole"


@dataclass(frozen=True)
class Checkpoint:
    """Where one stream's read of one organization stands: the cursor, committed with the rows it covers.

    One type from the reader to the database: the readers move it page by page, the engine commits it
    with each page, and `checkpoint_of` loads it back.
    """

    # The read in progress (none when `window_end` is None): its window, and the last committed key.
    window_start: datetime | None = None
    window_end: datetime | None = None
    position_ts: datetime | None = None
    position_id: int | None = None
    # Set while walking a block of records by page number: which pass and the last page read.
    block_pass: int | None = None
    block_page: int | None = None
    # How the read in progress reads the list: INCREMENTAL (an updated_at window), BY_ID or WHOLE.
    read: str = INCREMENTAL
    # Lower bound of the next updated_at window (the end of the last read that saw every change).
    completed_through: datetime | None = None
    # Set for an organization reached by reconnecting: nothing older than this is imported.
    history_floor: datetime | None = None
    # Set when the list did not honour the updated_at filter or sort: the best read it does honour
    # (BY_ID or WHOLE), and when that was last found out.
    fallback: str | None = None
    fallback_checked_at: datetime | None = None
    # Fallback reads: the highest id held (new records come after it) and the list's size at the
    # last whole read.
    after_id: int | None = None
    size: int | None = None

    @property
    def in_progress(self) -> bool:
        return self.window_end is not None


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None


def checkpoint_of(cursor: SyncCursor | None) -> Checkpoint:
    """The stored checkpoint of a stream (the empty one when it was never read)."""
    if cursor is None:
        return Checkpoint()
    state = cursor.state or {}
    return Checkpoint(
        window_start=cursor.window_start,
        window_end=cursor.window_end,
        position_ts=cursor.position_ts,
        position_id=cursor.position_id,
        block_pass=_int(state.get("block_pass")),
        block_page=cursor.block_page,
        read=str(state.get("read") or INCREMENTAL),
        completed_through=cursor.completed_through,
        history_floor=_time(state.get("history_floor")),
        fallback=state.get("fallback"),
        fallback_checked_at=_time(state.get("fallback_checked_at")),
        after_id=_int(state.get("after_id")),
        size=_int(state.get("size")),
    )


def _state(position: Checkpoint) -> dict[str, Any]:
    """The checkpoint fields without a column of their own, as the cursor's `state` JSON."""
    values: dict[str, Any] = {
        "block_pass": position.block_pass,
        "read": position.read if position.read != INCREMENTAL else None,
        "history_floor": position.history_floor,
        "fallback": position.fallback,
        "fallback_checked_at": position.fallback_checked_at,
        "after_id": position.after_id,
        "size": position.size,
    }
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in values.items()
        if value is not None
    }


async def start_run(
    session: AsyncSession,
    *,
    integration_id: int,
    organization_id: int | None,
    trigger: str,
    worker: str,
    mode: str = "incremental",
) -> SyncRun:
    run = SyncRun(
        integration_id=integration_id,
        organization_id=organization_id,
        trigger=trigger,
        mode=mode,
        status="running",
        streams={},
        worker=worker,
        started_at=utc_now(),
    )
    session.add(run)
    await session.flush()
    return run


async def update_run(session: AsyncSession, run_id: int, **values: Any) -> None:
    await session.execute(update(SyncRun).where(SyncRun.id == run_id).values(**values))


@dataclass(frozen=True)
class Lease:
    """What a sync transaction learns from renewing its lease: see `record_progress`."""

    status: str
    # The integration's sync commit counter, this transaction's increment included.
    commits: int


_PROGRESS = text(
    """
WITH lease AS (
    UPDATE integration SET lease_expires_at = now() + make_interval(secs => :lease_seconds),
                           sync_commits = sync_commits + 1
    WHERE id = :integration_id AND lease_owner = :worker
    RETURNING status, sync_commits
),
moved AS (
    INSERT INTO sync_cursor (integration_id, organization_id, stream, window_start, window_end,
                             position_ts, position_id, block_page, state, completed_through, updated_at)
    SELECT :integration_id, :organization_id, c.stream, c.window_start, c.window_end, c.position_ts,
           c.position_id, c.block_page, c.state, c.completed_through, now()
    FROM jsonb_to_recordset(CAST(:cursors AS jsonb)) AS c(
        stream text, window_start timestamptz, window_end timestamptz, position_ts timestamptz,
        position_id bigint, block_page integer, state jsonb, completed_through timestamptz)
    ON CONFLICT (integration_id, organization_id, stream) DO UPDATE SET
        window_start = EXCLUDED.window_start, window_end = EXCLUDED.window_end,
        position_ts = EXCLUDED.position_ts, position_id = EXCLUDED.position_id,
        block_page = EXCLUDED.block_page, state = EXCLUDED.state,
        completed_through = EXCLUDED.completed_through, updated_at = now()
),
counted AS (
    UPDATE sync_run SET streams = CAST(:streams AS jsonb)
    WHERE id = :run_id AND CAST(:streams AS jsonb) IS NOT NULL
)
SELECT status, sync_commits FROM lease
"""
)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _cursor_row(stream: str, position: Checkpoint) -> dict[str, Any]:
    """One cursor as a row of `_PROGRESS`'s recordset (timestamps in ISO 8601 with their offset)."""
    return {
        "stream": stream,
        "window_start": _iso(position.window_start),
        "window_end": _iso(position.window_end),
        "position_ts": _iso(position.position_ts),
        "position_id": position.position_id,
        "block_page": position.block_page,
        "state": _state(position),
        "completed_through": _iso(position.completed_through),
    }


async def record_progress(
    session: AsyncSession,
    *,
    integration_id: int,
    worker: str,
    lease_seconds: int,
    run_id: int,
    streams: dict[str, Any] | None,
    organization_id: int,
    stream: str | None = None,
    position: Checkpoint | None = None,
    positions: Mapping[str, Checkpoint] | None = None,
) -> Lease | None:
    """Renew our lease, move cursors and (given `streams`) the run's counts: one round trip.

    The cursors moved are `stream`'s to `position`, and every one of `positions` (stream → checkpoint).
    Returns the integration's status and commit counter, or None when the lease is no longer ours (the
    caller then rolls back, so no page is committed by a worker that lost its lease).
    """
    cursors = [_cursor_row(name, cp) for name, cp in (positions or {}).items()]
    if stream is not None and position is not None:
        cursors.append(_cursor_row(stream, position))
    result = await session.execute(
        _PROGRESS,
        {
            "integration_id": integration_id,
            "worker": worker,
            "lease_seconds": lease_seconds,
            "run_id": run_id,
            "streams": None if streams is None else json.dumps(streams),
            "organization_id": organization_id,
            "cursors": json.dumps(cursors),
        },
    )
    row = result.first()
    return None if row is None else Lease(status=row.status, commits=row.sync_commits)
