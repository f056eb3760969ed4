"""The orphan sweep: no run stays `running` after its worker is gone.

A worker that dies, or that cannot record its run's end because the database is away for longer than
it waits, leaves its run `running`. Claiming the integration again marks such runs failed, but an
integration that is paused meanwhile, or not due for hours, is not claimed: so every scheduler sweeps
now and then (cheap: a partial index holds just the running runs).
"""

from __future__ import annotations

import logging
import time

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.repositories.orphan_runs import fail_orphaned_runs

logger = logging.getLogger(__name__)


class OrphanSweeper:
    """Call `maybe_sweep()` from each scheduler tick; it sweeps at most every `interval` seconds."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], interval: float) -> None:
        self.sessionmaker = sessionmaker
        self.interval = interval
        self._last: float | None = None

    async def maybe_sweep(self) -> list[int]:
        now = time.monotonic()
        if self._last is not None and now - self._last < self.interval:
            return []
        self._last = now
        async with self.sessionmaker() as session, session.begin():
            swept = await fail_orphaned_runs(session)
        if swept:
            logger.warning("marked orphaned sync runs failed", extra={"runs": swept})
        return swept
