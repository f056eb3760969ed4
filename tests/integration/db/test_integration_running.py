"""Whether a sync is running, read along with the integration row in one round trip (the status
endpoint) and in two (`is_sync_running`): both must answer alike for every lease and run state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Integration, SyncRun
from app.db.repositories import integrations as repo


async def _both(session: AsyncSession, account: str, *, include_requested: bool = False) -> bool:
    now = datetime.now(UTC)
    integration, running = await repo.get_integration_and_whether_running(
        session, account=account, app_slug="classy", now=now, include_requested=include_requested
    )
    assert integration is not None
    alone = await repo.is_sync_running(session, integration, now=now, include_requested=include_requested)
    assert running == alone
    return running


async def test_running_means_a_run_marked_running_under_a_live_lease(session: AsyncSession) -> None:
    now = datetime.now(UTC)
    live = now + timedelta(minutes=1)
    rows = {
        "run-and-lease": Integration(account="a", status="connected", lease_owner="w", lease_expires_at=live),
        "lease-no-run": Integration(account="b", status="connected", lease_owner="w", lease_expires_at=live),
        "run-lapsed": Integration(
            account="c", status="connected", lease_owner="w", lease_expires_at=now - timedelta(seconds=1)
        ),
        "claimed-no-run-yet": Integration(
            account="d",
            status="connected",
            lease_owner="w",
            lease_expires_at=live,
            sync_requested_trigger="manual",
        ),
    }
    session.add_all(rows.values())
    await session.flush()
    for name in ("run-and-lease", "run-lapsed"):
        session.add(SyncRun(integration_id=rows[name].id, trigger="manual", status="running", streams={}))
    # Past runs of the integration that is not running: only a run marked running counts.
    past = SyncRun(integration_id=rows["lease-no-run"].id, trigger="manual", status="succeeded", streams={})
    session.add(past)
    await session.flush()

    assert await _both(session, "a") is True
    assert await _both(session, "b") is False
    assert await _both(session, "c") is False  # the worker died: its run does not count
    assert await _both(session, "d") is False
    assert await _both(session, "d", include_requested=True) is True  # claimed, its run row not written yet
    assert await repo.get_integration_and_whether_running(
        session, account="nobody", app_slug="classy", now=now
    ) == (None, False)
