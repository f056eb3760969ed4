"""Queries on integrations, their sync runs and their audit trail (always scoped by account)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Exists, exists, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from app.db.models import AuditEvent, Integration, IntegrationStatus, SyncRun


async def get_integration(session: AsyncSession, *, account: str, app_slug: str) -> Integration | None:
    """The account's integration with the app, or None when it was never connected."""
    statement = select(Integration).where(Integration.account == account, Integration.app_slug == app_slug)
    return (await session.execute(statement)).scalar_one_or_none()


async def list_integrations(session: AsyncSession, *, account: str) -> list[Integration]:
    """Every integration row of the account."""
    statement = select(Integration).where(Integration.account == account).order_by(Integration.app_slug)
    return list((await session.execute(statement)).scalars().all())


async def ensure_integration(session: AsyncSession, *, account: str, app_slug: str) -> None:
    """Create the integration row if it does not exist; safe when two requests race."""
    statement = (
        insert(Integration)
        .values(
            account=account,
            app_slug=app_slug,
            status=IntegrationStatus.AVAILABLE,
            version=0,
            consecutive_failures=0,
        )
        .on_conflict_do_nothing(index_elements=["account", "app_slug"])
    )
    await session.execute(statement)


async def lock_integration(session: AsyncSession, *, account: str, app_slug: str) -> Integration | None:
    """Load the integration with `SELECT … FOR UPDATE` (fresh values, held until commit)."""
    statement = (
        select(Integration)
        .where(Integration.account == account, Integration.app_slug == app_slug)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def lock_integration_by_id(session: AsyncSession, integration_id: int) -> Integration | None:
    """Like `lock_integration`, by primary key (the OAuth callback knows only the id)."""
    statement = (
        select(Integration)
        .where(Integration.id == integration_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


def sync_requested_and_due(integration: Integration, *, now: datetime) -> bool:
    """A sync was asked for (Save, resume, reconnect, POST /sync), is due and no worker holds it yet.

    Between the API's 202 and a worker claiming the run (token exchange first) the run is already
    "running" for the caller: a second POST /sync in that moment is the same sync (API.md §3: 409).
    A lapsed lease (a dead worker) or a failed run's backoff (next_sync_at ahead) does not count.
    """
    return (
        integration.status in (IntegrationStatus.CONNECTED, IntegrationStatus.ERROR)
        and integration.sync_requested_trigger is not None
        and integration.next_sync_at is not None
        and integration.next_sync_at <= now
        and integration.lease_expires_at is None
    )


def _decided_without_runs(integration: Integration, *, now: datetime, include_requested: bool) -> bool | None:
    """Whether a sync is running, when the integration row alone tells; None when it takes knowing
    whether a run is marked running."""
    if include_requested and sync_requested_and_due(integration, now=now):
        return True
    if integration.lease_expires_at is None or integration.lease_expires_at <= now:
        return False
    if include_requested and integration.sync_requested_trigger is not None:  # claimed, no run row yet
        return True
    return None


def _run_marked_running(integration_id: int | QueryableAttribute[int]) -> Exists:
    # One probe of the partial index `ix_sync_run_running`, whatever the number of past runs.
    return exists().where(SyncRun.integration_id == integration_id, SyncRun.status == "running")


async def is_sync_running(
    session: AsyncSession, integration: Integration, *, now: datetime, include_requested: bool = False
) -> bool:
    """A run marked running whose worker's lease has not lapsed (a crashed run does not count).

    With `include_requested` (a scheduler runs in this process, so a request will be picked up) a
    requested sync that no worker has claimed yet counts too.
    """
    decided = _decided_without_runs(integration, now=now, include_requested=include_requested)
    if decided is not None:
        return decided
    return bool((await session.execute(select(_run_marked_running(integration.id)))).scalar())


async def get_integration_and_whether_running(
    session: AsyncSession, *, account: str, app_slug: str, now: datetime, include_requested: bool = False
) -> tuple[Integration | None, bool]:
    """`get_integration` and `is_sync_running` in one round trip.

    The status endpoint is polled while syncs run, when every round trip waits for a busy core: the
    run marked running is asked for along with the row, and counts only as `is_sync_running` says.
    """
    statement = select(Integration, _run_marked_running(Integration.id).label("run_marked_running")).where(
        Integration.account == account, Integration.app_slug == app_slug
    )
    row = (await session.execute(statement)).one_or_none()
    if row is None:
        return None, False
    integration, run_marked_running = row
    decided = _decided_without_runs(integration, now=now, include_requested=include_requested)
    return integration, bool(run_marked_running) if decided is None else decided


async def list_sync_runs(
    session: AsyncSession, *, integration_id: int, before_id: int | None, limit: int
) -> list[SyncRun]:
    """Runs newest first, `limit` of them, older than `before_id` when given (keyset)."""
    statement = select(SyncRun).where(SyncRun.integration_id == integration_id)
    if before_id is not None:
        statement = statement.where(SyncRun.id < before_id)
    statement = statement.order_by(SyncRun.id.desc()).limit(limit)
    return list((await session.execute(statement)).scalars().all())


async def add_audit_event(
    session: AsyncSession,
    *,
    integration: Integration,
    action: str,
    actor: str,
    actor_name: str | None,
    at: datetime,
    details: dict[str, Any],
) -> AuditEvent:
    """Append one lifecycle action to the integration's audit trail."""
    event = AuditEvent(
        integration_id=integration.id,
        account=integration.account,
        action=action,
        actor=actor,
        actor_name=actor_name,
        at=at,
        details=details,
    )
    session.add(event)
    await session.flush()
    return event


async def list_audit_events(
    session: AsyncSession, *, integration_id: int, before_id: int | None, limit: int
) -> list[AuditEvent]:
    """Audit events newest first (keyset on id)."""
    statement = select(AuditEvent).where(AuditEvent.integration_id == integration_id)
    if before_id is not None:
        statement = statement.where(AuditEvent.id < before_id)
    statement = statement.order_by(AuditEvent.id.desc()).limit(limit)
    return list((await session.execute(statement)).scalars().all())


async def last_connected_organization(session: AsyncSession, *, integration_id: int) -> int | None:
    """The organization of the integration's latest completed connection (from its audit trail)."""
    statement = (
        select(AuditEvent.details["connected_organization_id"].as_integer())
        .where(
            AuditEvent.integration_id == integration_id,
            AuditEvent.details.has_key("connected_organization_id"),
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    value = (await session.execute(statement)).scalar_one_or_none()
    return int(value) if value is not None else None
