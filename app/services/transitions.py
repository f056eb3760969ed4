"""Building blocks of the lifecycle: locking in a state, completing a connection, requesting a sync."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Integration, IntegrationStatus
from app.db.repositories import integrations as repo
from app.errors import ConflictError

APP_SLUG = "classy"
APP_NAME = "Classy"

_STATE_PHRASES = {
    IntegrationStatus.AVAILABLE: "not connected yet (use Connect first)",
    IntegrationStatus.AWAITING_CREDENTIALS: "waiting for its Client ID, Client Secret and Organization ID",
    IntegrationStatus.AWAITING_AUTHORIZATION: "waiting for the Classy login to be completed",
    IntegrationStatus.CONNECTED: "connected",
    IntegrationStatus.PAUSED: "paused",
    IntegrationStatus.DISCONNECTED: "disconnected",
    IntegrationStatus.ERROR: "in error",
}
# Triggers that say more than "resume"/"manual" and must not be overwritten by them before the run.
_STRONG_TRIGGERS = frozenset({"initial", "reconnect", "resume"})


@dataclass(frozen=True)
class Actor:
    """Who performs a lifecycle action (the bearer token's user, or the user bound to an OAuth state)."""

    sub: str
    name: str | None


def describe_state(status: IntegrationStatus) -> str:
    return _STATE_PHRASES[status]


def conflict(action: str, status: IntegrationStatus) -> ConflictError:
    """409 with a sentence naming the action and the state that forbids it."""
    return ConflictError(
        f"Cannot {action}: the Classy integration is {describe_state(status)}.", code="invalid_state"
    )


async def lock_in_state(
    session: AsyncSession, *, account: str, allowed: Collection[IntegrationStatus], action: str
) -> Integration:
    """Lock the account's integration and check it is in one of `allowed`, else 409."""
    integration = await repo.lock_integration(session, account=account, app_slug=APP_SLUG)
    status = integration.status if integration is not None else IntegrationStatus.AVAILABLE
    if integration is None or status not in allowed:
        raise conflict(action, status)
    return integration


def check_state(
    integration: Integration | None, *, allowed: Collection[IntegrationStatus], action: str
) -> Integration:
    """The same check without a lock (fail fast before calling Classy; re-checked under the lock)."""
    status = integration.status if integration is not None else IntegrationStatus.AVAILABLE
    if integration is None or status not in allowed:
        raise conflict(action, status)
    return integration


def request_sync(integration: Integration, trigger: str, *, now: datetime, mode: str | None = None) -> None:
    """Ask the sync engine for a run now (it reads these columns; the API then wakes it)."""
    # A lifecycle trigger (initial, reconnect, resume) names the run that follows it; a manual request
    # does not relabel a pending lifecycle run.
    pending = integration.sync_requested_trigger
    if not (pending in _STRONG_TRIGGERS and trigger not in _STRONG_TRIGGERS):
        integration.sync_requested_trigger = trigger
    if mode is not None:  # a pending reconcile or full import is not lost to a later plain request
        integration.sync_requested_mode = mode
    integration.next_sync_at = now


def bump(integration: Integration) -> None:
    integration.version = integration.version + 1


async def complete_connection(
    session: AsyncSession, integration: Integration, *, organization_id: int, actor: Actor, now: datetime
) -> dict[str, Any]:
    """Move to `connected` and request the first sync; returns audit details.

    The first connection ever syncs the full history ('initial'). Later ones are reconnects: the same
    organization continues its cursors; a different one starts at the last successful sync (or the
    disconnect), never at its older history.
    """
    previous = await repo.last_connected_organization(session, integration_id=integration.id)
    details: dict[str, Any] = {
        "organization_id": organization_id,
        "connected_organization_id": organization_id,
    }
    if previous is None:
        trigger = "initial"
        integration.history_floor_at = None
    else:
        trigger = "reconnect"
        changed = previous != organization_id
        details.update(organization_changed=changed, previous_organization_id=previous)
        if changed:
            integration.history_floor_at = integration.last_synced_at or integration.disconnected_at or now
            details["history_floor_at"] = integration.history_floor_at.isoformat()
    integration.status = IntegrationStatus.CONNECTED
    integration.organization_id = organization_id
    integration.connected_by, integration.connected_by_name, integration.connected_at = (
        actor.sub,
        actor.name,
        now,
    )
    integration.last_error = None
    integration.consecutive_failures = 0
    integration.sync_requested_trigger = None
    integration.sync_requested_mode = None
    request_sync(integration, trigger, now=now)
    details["sync_trigger"] = trigger
    return details


async def audit(
    session: AsyncSession,
    integration: Integration,
    action: str,
    actor: Actor,
    *,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    """Write the audit event of an action (details must never hold a secret)."""
    await repo.add_audit_event(
        session,
        integration=integration,
        action=action,
        actor=actor.sub,
        actor_name=actor.name,
        at=now,
        details=details or {},
    )
