"""The lease heartbeat of a running sync: renewed by the database's clock, and a run that cannot renew stops.

A run waiting on Classy (rate limits, retries) writes nothing for a while, so its lease is renewed
every third of its length. If renewals fail until the lease may have run out, another worker may
already have claimed the integration: the run stops (recorded failed with `failure`) rather than risk
two workers writing one integration. Lease times are the database's (`now()`), like claims.
"""

from __future__ import annotations

import asyncio
import logging
import time

from app.db.repositories import sync_state
from app.sync.context import SyncContext

logger = logging.getLogger(__name__)

LEASE_LOST = (
    "The sync's lease could not be renewed (the database did not answer), so it stopped before another "
    "worker could take over; the next run resumes from its checkpoint."
)
RETRY_SECONDS = 1.0


class Heartbeat:
    """Renews one integration's lease until cancelled; sets `stop` (and `failure`) when it cannot."""

    def __init__(self, ctx: SyncContext, integration_id: int, stop: asyncio.Event) -> None:
        self.ctx = ctx
        self.integration_id = integration_id
        self.stop = stop
        self.failure: str | None = None

    async def run(self) -> None:
        lease = self.ctx.settings.sync_lease_seconds
        interval = max(1.0, lease / 3)
        # The lease was taken (or last renewed) no earlier than now: it holds for `lease` seconds.
        renewed_at = time.monotonic()
        delay = interval
        while True:
            await asyncio.sleep(delay)
            attempt = time.monotonic()
            try:
                async with self.ctx.sessionmaker() as session, session.begin():
                    status = await sync_state.renew_lease(
                        session,
                        integration_id=self.integration_id,
                        worker=self.ctx.worker,
                        lease_seconds=lease,
                    )
            except Exception as exc:
                # Keep trying while the lease surely still holds; stop before it may have run out.
                left = lease - (time.monotonic() - renewed_at)
                if left > RETRY_SECONDS + 0.5:
                    logger.warning(
                        "could not renew the sync lease; retrying",
                        extra={"integration_id": self.integration_id, "error": type(exc).__name__},
                    )
                    delay = RETRY_SECONDS
                    continue
                logger.warning(
                    "sync lease lost: renewals failed", extra={"integration_id": self.integration_id}
                )
                self.failure = LEASE_LOST
                self.stop.set()
                return
            renewed_at, delay = attempt, interval
            if status is None or status not in sync_state.SYNCABLE_STATUSES:
                self.stop.set()  # paused or disconnected elsewhere (another replica), or our lease is gone
                return
