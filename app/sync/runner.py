"""Builds the scheduler with the job that syncs due integrations (filled in by the sync engine)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.security.crypto import Encryptor
from app.settings import Settings
from app.sync.scheduler import SyncScheduler


def build_scheduler(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], encryptor: Encryptor
) -> SyncScheduler:
    """The process's scheduler; its tick claims and runs due syncs."""
    return SyncScheduler(None, interval=settings.scheduler_tick_seconds, enabled=settings.scheduler_enabled)
