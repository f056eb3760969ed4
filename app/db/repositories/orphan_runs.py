"""Runs left `running` by a worker that is gone: the SQL of the orphan sweep."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.repositories.sync_state import INTERRUPTED

# A run is orphaned once its worker no longer holds the integration's lease: the lease ran out (the
# worker died, or lost the database for longer than the lease), or another worker holds it now.
_SWEEP = text(
    """
UPDATE sync_run r
SET status = 'failed', error = :error, finished_at = now()
FROM integration i
WHERE r.status = 'running' AND i.id = r.integration_id
  AND (i.lease_owner IS NULL OR i.lease_owner IS DISTINCT FROM r.worker OR i.lease_expires_at < now())
RETURNING r.id
"""
)


async def fail_orphaned_runs(session: AsyncSession, error: str = INTERRUPTED) -> list[int]:
    """Mark every orphaned `running` run failed with `error`; returns their ids."""
    return [row.id for row in await session.execute(_SWEEP, {"error": error})]
