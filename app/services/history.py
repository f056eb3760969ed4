"""Sync runs and audit events of an account's integration, newest first (keyset: ids below `before_id`).

The caller decodes the cursor and builds the page (app/api/pagination.py); these read `limit` rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import AuditEvent, SyncRun
from app.db.repositories import integrations as repo
from app.db.repositories import rejected as rejected_repo
from app.services.transitions import APP_SLUG


async def sync_runs(
    session: AsyncSession, *, account: str, before_id: int | None, limit: int
) -> Sequence[SyncRun]:
    """The integration's sync runs; none before the first Connect."""
    integration = await repo.get_integration(session, account=account, app_slug=APP_SLUG)
    if integration is None:
        return []
    return await repo.list_sync_runs(session, integration_id=integration.id, before_id=before_id, limit=limit)


async def rejected_for(session: AsyncSession, runs: Sequence[SyncRun]) -> dict[int, list[dict[str, Any]]]:
    """The records each of these runs set aside (the first 100 of each)."""
    return await rejected_repo.listed_for_runs(session, [run.id for run in runs])


async def events(
    session: AsyncSession, *, account: str, before_id: int | None, limit: int
) -> Sequence[AuditEvent]:
    """The integration's audit events; none before the first Connect."""
    integration = await repo.get_integration(session, account=account, app_slug=APP_SLUG)
    if integration is None:
        return []
    return await repo.list_audit_events(
        session, integration_id=integration.id, before_id=before_id, limit=limit
    )
