"""The connection lifecycle of an account's Classy integration (API.md section 3).

Each write locks the integration row (`SELECT … FOR UPDATE`), checks the state inside the lock, bumps
`version` and commits; Classy is never called while the lock is held (verify first, then lock, re-check
and store). These functions own their transactions because a verification failure must still leave
an audit event behind while nothing else is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import utc_now
from app.db.models import Integration
from app.db.repositories import integrations as repo
from app.db.repositories import oauth_states
from app.db.repositories.credentials import erase_credentials, store_credentials
from app.errors import AppError, ConflictError
from app.security.crypto import Encryptor
from app.services import oauth
from app.services.classy_checks import CredentialCheck
from app.services.transitions import (
    APP_SLUG,
    Actor,
    audit,
    bump,
    check_state,
    complete_connection,
    lock_in_state,
    request_sync,
)
from app.settings import Settings

SAVE_STATES = ("awaiting_credentials", "awaiting_authorization")
DISCONNECT_STATES = ("connected", "paused", "error", "awaiting_credentials", "awaiting_authorization")


@dataclass(frozen=True)
class Lifecycle:
    """What lifecycle writes need besides the session."""

    settings: Settings
    encryptor: Encryptor
    classy: CredentialCheck


@dataclass(frozen=True)
class CredentialsInput:
    """Client ID, Client Secret and Organization ID as typed by the admin (secret hidden from repr)."""

    client_id: str
    client_secret: str = field(repr=False)
    organization_id: int


@dataclass
class IntegrationView:
    """An integration as the API shows it: the row (None before the first Connect) plus live facts."""

    integration: Integration | None
    sync_running: bool = False
    authorize_url: str | None = None


async def get_view(session: AsyncSession, *, account: str) -> IntegrationView:
    """The account's Classy integration with `sync_running` worked out."""
    integration = await repo.get_integration(session, account=account, app_slug=APP_SLUG)
    running = False
    if integration is not None:
        running = await repo.is_sync_running(session, integration, now=utc_now())
    return IntegrationView(integration, sync_running=running)


async def connect(session: AsyncSession, *, account: str, actor: Actor) -> IntegrationView:
    """available/disconnected → awaiting_credentials (idempotent when already there)."""
    await repo.ensure_integration(session, account=account, app_slug=APP_SLUG)
    allowed = ("available", "disconnected", "awaiting_credentials")
    integration = await lock_in_state(session, account=account, allowed=allowed, action="connect")
    if integration.status != "awaiting_credentials":
        now = utc_now()
        previous = integration.status
        integration.status = "awaiting_credentials"
        bump(integration)
        await audit(session, integration, "connect", actor, now=now, details={"previous_status": previous})
    await session.commit()
    return IntegrationView(integration)


async def save_credentials(
    session: AsyncSession, life: Lifecycle, *, account: str, actor: Actor, form: CredentialsInput
) -> IntegrationView:
    """Save: verify with Classy, then store and connect (or hand out the Classy login URL)."""
    return await _verify_and_store(session, life, account=account, actor=actor, form=form, action="save")


async def reconnect(
    session: AsyncSession, life: Lifecycle, *, account: str, actor: Actor, form: CredentialsInput
) -> IntegrationView:
    """disconnected → connected (or awaiting_authorization), with freshly verified credentials."""
    return await _verify_and_store(session, life, account=account, actor=actor, form=form, action="reconnect")


async def _verify_and_store(
    session: AsyncSession,
    life: Lifecycle,
    *,
    account: str,
    actor: Actor,
    form: CredentialsInput,
    action: str,
) -> IntegrationView:
    allowed = ("disconnected",) if action == "reconnect" else SAVE_STATES
    verb = "reconnect" if action == "reconnect" else "save credentials"
    found = await repo.get_integration(session, account=account, app_slug=APP_SLUG)
    integration_id = check_state(found, allowed=allowed, action=verb).id
    await session.rollback()  # end the read transaction: nothing is held while Classy answers
    code_flow = life.settings.classy_auth_flow == "authorization_code"
    try:
        token = await life.classy.verify_app(
            client_id=form.client_id, client_secret=form.client_secret, organization_id=form.organization_id
        )
    except AppError as exc:
        await _record_rejection(session, integration_id, actor, form, exc)
        raise
    integration = await lock_in_state(session, account=account, allowed=allowed, action=verb)
    now = utc_now()
    audit_action = "reconnect" if action == "reconnect" else "save_credentials"
    details: dict[str, Any] = {"client_id": form.client_id, "organization_id": form.organization_id}
    integration.client_id = form.client_id
    integration.auth_flow = life.settings.classy_auth_flow
    view = IntegrationView(integration)
    if code_flow:
        # The member token comes from the callback; keep only what the code exchange will need.
        await store_credentials(
            session,
            life.encryptor,
            integration_id=integration.id,
            client_id=form.client_id,
            client_secret=form.client_secret,
        )
        integration.organization_id = form.organization_id
        integration.status = "awaiting_authorization"
        state = await oauth.issue_state(session, integration, actor=actor, now=now)
        view.authorize_url = life.classy.authorize_url(client_id=form.client_id, state=state)
        details["status"] = "awaiting_authorization"
    else:
        await store_credentials(
            session,
            life.encryptor,
            integration_id=integration.id,
            client_id=form.client_id,
            client_secret=form.client_secret,
            access_token=token.access_token,
            refresh_token=token.refresh_token,
            token_expires_at=token.expires_at,
        )
        details.update(
            await complete_connection(
                session, integration, organization_id=form.organization_id, actor=actor, now=now
            )
        )
        details["status"] = "connected"
    bump(integration)
    await audit(session, integration, audit_action, actor, now=now, details=details)
    await session.commit()
    return view


async def _record_rejection(
    session: AsyncSession, integration_id: int, actor: Actor, form: CredentialsInput, exc: AppError
) -> None:
    """Audit a failed verification (reason code only); nothing else changes."""
    integration = await session.get(Integration, integration_id)
    if integration is None:
        return
    action = "credentials_rejected" if exc.code != "classy_unavailable" else "verification_failed"
    details = {"reason": exc.code, "client_id": form.client_id, "organization_id": form.organization_id}
    await audit(session, integration, action, actor, now=utc_now(), details=details)
    await session.commit()


async def pause(session: AsyncSession, *, account: str, actor: Actor) -> IntegrationView:
    """connected/error → paused; credentials stay, nothing is fetched."""
    integration = await lock_in_state(
        session, account=account, allowed=("connected", "error"), action="pause"
    )
    now = utc_now()
    previous = integration.status
    integration.status = "paused"
    integration.paused_by, integration.paused_by_name, integration.paused_at = actor.sub, actor.name, now
    bump(integration)
    await audit(session, integration, "pause", actor, now=now, details={"previous_status": previous})
    await session.commit()
    return IntegrationView(integration)


async def resume(session: AsyncSession, *, account: str, actor: Actor) -> IntegrationView:
    """paused → connected, and a sync of everything changed since the last successful one starts."""
    integration = await lock_in_state(session, account=account, allowed=("paused",), action="resume")
    now = utc_now()
    integration.status = "connected"
    integration.resumed_by, integration.resumed_by_name, integration.resumed_at = actor.sub, actor.name, now
    request_sync(integration, "resume", now=now)
    bump(integration)
    await audit(session, integration, "resume", actor, now=now, details={"sync_trigger": "resume"})
    await session.commit()
    return IntegrationView(integration)


async def disconnect(session: AsyncSession, *, account: str, actor: Actor) -> IntegrationView:
    """→ disconnected: secrets, tokens and pending logins erased; synced data kept."""
    integration = await lock_in_state(
        session, account=account, allowed=DISCONNECT_STATES, action="disconnect"
    )
    now = utc_now()
    previous = integration.status
    await erase_credentials(session, integration.id)
    await oauth_states.delete_pending_states(session, integration.id)
    integration.status = "disconnected"
    integration.disconnected_by = actor.sub
    integration.disconnected_by_name = actor.name
    integration.disconnected_at = now
    integration.sync_requested_trigger = None
    integration.next_sync_at = None
    bump(integration)
    details = {"previous_status": previous, "organization_id": integration.organization_id}
    await audit(session, integration, "disconnect", actor, now=now, details=details)
    await session.commit()
    return IntegrationView(integration)


async def request_manual_sync(session: AsyncSession, *, account: str, actor: Actor) -> IntegrationView:
    """Ask for an incremental sync now; 409 when one is already running."""
    integration = await lock_in_state(session, account=account, allowed=("connected", "error"), action="sync")
    now = utc_now()
    if await repo.is_sync_running(session, integration, now=now):
        raise ConflictError(
            "A sync of this Classy integration is already running; wait for it to finish.",
            code="sync_running",
        )
    request_sync(integration, "manual", now=now)
    bump(integration)
    await audit(session, integration, "sync_requested", actor, now=now, details={"sync_trigger": "manual"})
    await session.commit()
    return IntegrationView(integration)
