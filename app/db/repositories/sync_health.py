"""Cross-account figures for monitoring: how stale the freshest data of each integration is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Integration


@dataclass(frozen=True)
class SyncHealth:
    """Integrations per status, and the largest age of a connected integration's last success."""

    by_status: dict[str, int]
    oldest_success_age_seconds: float


async def sync_health(session: AsyncSession, *, now: datetime) -> SyncHealth:
    """One aggregate query per figure; no per-integration value leaves (bounded metric labels)."""
    counts = await session.execute(select(Integration.status, func.count()).group_by(Integration.status))
    since = func.coalesce(Integration.last_synced_at, Integration.connected_at, Integration.created_at)
    oldest = await session.scalar(
        select(func.min(since)).where(Integration.status.in_(("connected", "error")))
    )
    age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    return SyncHealth(
        by_status={status: int(n) for status, n in counts.all()}, oldest_success_age_seconds=age
    )
