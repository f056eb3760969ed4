"""Periodic chores that keep tables from growing without bound, run from the scheduler's tick.

Today: used and expired OAuth states (one row per Save in the authorization-code flow) are deleted.
Every replica may run it; the delete is idempotent, so no coordination is needed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.base import utc_now
from app.db.repositories import oauth_states

logger = logging.getLogger(__name__)

HOUSEKEEPING_INTERVAL_SECONDS = 600.0


class Housekeeping:
    """Runs the chores at most every `interval` seconds, however often `maybe_run` is called."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        interval: float = HOUSEKEEPING_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessionmaker = sessionmaker
        self.interval = interval
        self._clock = clock
        self._last_run: float | None = None

    async def maybe_run(self) -> None:
        now = self._clock()
        if self._last_run is not None and now - self._last_run < self.interval:
            return
        self._last_run = now
        try:
            await self.run_once()
        except Exception:  # a chore must never stop the scheduler; it runs again next interval
            logger.warning("housekeeping failed", exc_info=True)

    async def run_once(self) -> int:
        """Purge used and expired OAuth states; returns how many were deleted."""
        async with self._sessionmaker() as session, session.begin():
            purged = await oauth_states.purge_states(session, now=utc_now())
        if purged:
            logger.info("purged used and expired OAuth states", extra={"purged": purged})
        return purged
