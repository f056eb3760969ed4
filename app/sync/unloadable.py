"""A sync that cannot start because the credentials cannot be loaded still leaves a trace.

Without one, a key id removed from `ENCRYPTION_KEYS` (or a database blip while loading) showed nothing:
no run, `last_error` empty, the badge still Connected, and the integration claimed again every lease
period forever. Now it is a failed run with a sentence, the integration shows Error, and it is retried
with the same capped backoff as any failed run.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import case

from app.db.base import utc_now
from app.db.models import Integration
from app.db.models import IntegrationStatus as S
from app.db.outage import is_database_outage
from app.db.repositories import sync_state
from app.security.crypto import DecryptionError
from app.sync.context import SyncContext

logger = logging.getLogger(__name__)


def load_failure_sentence(exc: Exception) -> str:
    """What the admin reads in `last_error` (never a secret: the key id at most)."""
    if isinstance(exc, DecryptionError):
        return (
            f"The stored credentials cannot be decrypted: {exc} Restore that key, or Reconnect with the "
            "credentials to store them again."
        )
    if is_database_outage(exc):
        return "The credentials could not be loaded: the database did not answer. The sync is retried."
    logger.error("could not load an integration's credentials", exc_info=exc)
    return "The credentials could not be loaded because of an unexpected error; the sync is retried."


async def record_unloadable(
    ctx: SyncContext, integration: Integration, error: str, retry_in: timedelta, trigger: str
) -> None:
    """One failed run with `error`, the integration in `error` with backoff, and the lease given back."""
    async with ctx.sessionmaker() as session, session.begin():
        run = await sync_state.start_run(
            session,
            integration_id=integration.id,
            organization_id=integration.organization_id,
            trigger=trigger,
            worker=ctx.worker,
        )
        now = utc_now()
        await sync_state.update_run(session, run.id, status="failed", finished_at=now, error=error)
        await sync_state.release_lease(
            session,
            integration_id=integration.id,
            worker=ctx.worker,
            last_error=error,
            consecutive_failures=integration.consecutive_failures + 1,
            next_sync_at=now + retry_in,
            status=case(
                (Integration.status.in_(sync_state.SYNCABLE_STATUSES), S.ERROR), else_=Integration.status
            ),
        )
