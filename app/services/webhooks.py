"""Classy webhooks as hints: configuring the endpoint, and turning a verified delivery into a sync.

An event says only that something changed in Classy (its payload schemas are not public), so it never
writes data: it asks for an incremental sync of the integration, due `DEBOUNCE` after the first event
of a burst (the burst's other events fall into the same run). An event that arrives while a run is in
progress bumps the integration's `version`, which makes that run's end schedule one more run (the run
may have read Classy before the change), due `DEBOUNCE` after that event. Paused, disconnected or
failing integrations do nothing: the backoff after failed runs stands.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import utc_now
from app.db.models import Integration, IntegrationStatus, WebhookEndpoint
from app.db.repositories import integrations as integrations_repo
from app.db.repositories import webhooks as repo
from app.errors import ConflictError, NotFoundError, UnprocessableError
from app.security.crypto import Encryptor
from app.security.webhook_signatures import check_secret
from app.services.transitions import APP_SLUG, Actor, audit, bump, request_sync

WEBHOOK_PATH = "/webhooks/classy"
# A burst of events starts one run: the first event makes a run due this much later.
DEBOUNCE = timedelta(seconds=1)

SYNC_REQUESTED = "sync_requested"
IGNORED = "ignored"
DUPLICATE = "duplicate"


@dataclass(frozen=True)
class WebhookView:
    """The endpoint as the API shows it (never the secret); `configured_at` is None until it is saved."""

    url: str
    configured_at: datetime | None
    configured_by: str | None
    configured_by_name: str | None
    last_event_at: datetime | None


def _view(public_url: str, row: WebhookEndpoint) -> WebhookView:
    return WebhookView(
        url=f"{public_url}{WEBHOOK_PATH}/{row.id}",
        configured_at=row.configured_at,
        configured_by=row.configured_by,
        configured_by_name=row.configured_by_name,
        last_event_at=row.last_event_at,
    )


def _new_id() -> str:
    return secrets.token_urlsafe(18)


async def _integration_or_conflict(session: AsyncSession, account: str, *, what: str) -> Integration:
    integration = await integrations_repo.lock_integration(session, account=account, app_slug=APP_SLUG)
    if integration is None:
        raise ConflictError(
            f"Cannot {what}: the Classy integration is not connected yet (use Connect first).",
            code="invalid_state",
        )
    return integration


async def configure(
    session: AsyncSession, encryptor: Encryptor, *, public_url: str, account: str, actor: Actor, secret: str
) -> WebhookView:
    """Store (or replace) the signing secret, sealed; the endpoint keeps the URL it was shown with."""
    problem = check_secret(secret)
    if problem is not None:
        raise UnprocessableError(problem, code="invalid_webhook_secret")
    integration = await _integration_or_conflict(session, account, what="configure a webhook")
    now = utc_now()
    existing = await repo.get_for_integration(session, integration.id)
    replaced = existing is not None and existing.secret_ciphertext is not None
    row = await repo.store_secret(
        session,
        encryptor,
        integration_id=integration.id,
        new_id=_new_id(),
        secret=secret,
        actor=actor.sub,
        actor_name=actor.name,
        now=now,
    )
    await audit(session, integration, "webhook_configured", actor, now=now, details={"replaced": replaced})
    await session.commit()
    return _view(public_url, row)


async def get(session: AsyncSession, *, public_url: str, account: str) -> WebhookView:
    """The URL to paste into Classy; it exists before the secret is saved (Classy shows the secret only
    once the endpoint is created there), so the first read makes it."""
    integration = await integrations_repo.get_integration(session, account=account, app_slug=APP_SLUG)
    if integration is None:
        raise NotFoundError(
            "The Classy integration is not connected yet, so it has no webhook URL.", code="not_connected"
        )
    row = await repo.get_for_integration(session, integration.id)
    if row is None:
        row = await repo.ensure_endpoint(session, integration_id=integration.id, new_id=_new_id())
        await session.commit()
    return _view(public_url, row)


async def remove(session: AsyncSession, *, account: str, actor: Actor) -> None:
    """Delete the endpoint: its URL answers 404 from now on (a later read shows a new one)."""
    integration = await integrations_repo.lock_integration(session, account=account, app_slug=APP_SLUG)
    if integration is None or not await repo.delete_endpoint(session, integration.id):
        raise NotFoundError(
            "No webhook is configured for the Classy integration.", code="webhook_not_configured"
        )
    await audit(session, integration, "webhook_removed", actor, now=utc_now())
    await session.commit()


async def receive(
    session: AsyncSession, *, integration_id: int, message_id: str, event_type: str | None
) -> str:
    """Act on a verified delivery once: `sync_requested`, `ignored` or `duplicate` (already handled).

    The integration row is locked first, so deliveries of one integration (and lifecycle changes)
    take turns: a burst moves `next_sync_at` once, and a pause racing a delivery is seen by it.
    """
    integration = await integrations_repo.lock_integration_by_id(session, integration_id)
    if integration is None:
        return IGNORED
    now = utc_now()
    due = now + DEBOUNCE
    pending = integration.next_sync_at
    backing_off = integration.consecutive_failures > 0 and pending is not None and pending > due
    outcome = (
        SYNC_REQUESTED if integration.status == IntegrationStatus.CONNECTED and not backing_off else IGNORED
    )
    handled = await repo.remember_delivery(
        session,
        integration_id=integration_id,
        message_id=message_id,
        event_type=event_type,
        outcome=outcome,
        now=now,
    )
    if not handled:
        await session.rollback()
        return DUPLICATE
    if outcome == SYNC_REQUESTED:
        running = integration.lease_expires_at is not None and integration.lease_expires_at > now
        if pending is None or pending > due or (running and pending <= now):
            # Nothing due sooner; or a run is in progress, and the run that follows it waits for the
            # debounce too (its end keeps this time), so the rest of a burst falls into that one.
            request_sync(integration, "webhook", now=due)
        # (Otherwise a run is due within the debounce anyway: it covers this event, its label stands.)
        # A run in progress sees the new version at its end and schedules one more run.
        bump(integration)
    await session.commit()
    return outcome
