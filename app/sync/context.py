"""What a sync run needs from its process."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.security.crypto import Encryptor
from app.settings import Settings
from app.sync.scheduler import StopSignals


@dataclass
class SyncContext:
    """Settings, database, secrets, this worker's id and the stop signals of its running syncs."""

    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    encryptor: Encryptor
    worker: str
    stop_signals: StopSignals = field(default_factory=StopSignals)
