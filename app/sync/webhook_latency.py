"""Delivery-to-API latency of Classy webhooks: a successful run serves the deliveries received before it.

A delivery received before a run started is covered by that run's windows (they end when the run
starts), so once the run has committed, the change the event named is in the API.
"""

from __future__ import annotations

import logging
from datetime import datetime

from app.db.base import utc_now
from app.db.repositories import webhooks
from app.metrics import WEBHOOK_TO_API_SECONDS
from app.sync.context import SyncContext

logger = logging.getLogger(__name__)


async def record_served_deliveries(
    ctx: SyncContext, integration_id: int, *, run_started_at: datetime
) -> None:
    """Mark the deliveries this run served and observe their latency; never fails the run."""
    try:
        async with ctx.sessionmaker() as session, session.begin():
            latencies = await webhooks.mark_served(
                session, integration_id=integration_id, run_started_at=run_started_at, finished_at=utc_now()
            )
    except Exception:
        logger.warning("could not record served webhook deliveries", exc_info=True)
        return
    for seconds in latencies:
        WEBHOOK_TO_API_SECONDS.observe(max(0.0, seconds))
