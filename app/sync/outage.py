"""How a sync run meets a database outage: a sentence for the run, and bookkeeping that waits it out.

A run whose database goes away mid-page fails (its page rolls back) and the next run resumes from the
checkpoint. Recording that outcome needs the database too, so it is retried for a while: a restart or
a failover takes seconds. If the outage outlasts that, the run's row stays `running` until the orphan
sweep (app/sync/sweeper.py) or the next claim of the integration marks it failed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from app.db.outage import is_database_outage

logger = logging.getLogger(__name__)

DATABASE_LOST = (
    "The connection to the database was lost during the sync (it restarted or failed over); the next "
    "run resumes from the last checkpoint."
)


class DatabaseLost(Exception):
    """The database went away under one stream: every stream stops, the run fails with DATABASE_LOST.

    Streams are otherwise isolated (one failing list does not hold back the others), but an outage is
    everyone's: the other streams would fail at their next write, or carry on from positions that a
    crash may have made stale.
    """

    def __init__(self) -> None:
        super().__init__(DATABASE_LOST)


async def outage_ends_every_stream(job: Coroutine[Any, Any, None]) -> None:
    """Run one stream's job, turning a database outage into `DatabaseLost` (fatal to the run)."""
    try:
        await job
    except Exception as exc:
        if is_database_outage(exc):
            raise DatabaseLost() from exc
        raise


async def retry_through_outage(
    action: Callable[[], Awaitable[None]], *, within: float, pause: float = 0.5
) -> None:
    """Run `action`, again and again while the database is unavailable, for up to `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        try:
            await action()
            return
        except Exception as exc:
            if not is_database_outage(exc) or time.monotonic() + pause > deadline:
                raise
            logger.warning("the database is unavailable; retrying the sync's bookkeeping")
        await asyncio.sleep(pause)
