"""The objects one service process shares: built once in `main`, reached by the API through `request`."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.security.crypto import Encryptor
from app.security.throttle import AttemptThrottle
from app.settings import Settings
from app.sync.scheduler import SyncScheduler


@dataclass
class Runtime:
    """Settings, database handles (`engine` serves the API), the encryptor and the scheduler."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    encryptor: Encryptor
    scheduler: SyncScheduler
    jwt_secret: str = field(repr=False, default="")
    # Sync work has a pool of its own, so an import cannot take every connection from the API.
    sync_engine: AsyncEngine | None = None
    # Save/Reconnect attempts per account: each one calls Classy's token endpoint.
    credential_attempts: AttemptThrottle = field(default_factory=AttemptThrottle)
