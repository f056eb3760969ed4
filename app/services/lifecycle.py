"""The connection lifecycle of an account's Classy integration (API.md section 3).

Each write locks the integration row (`SELECT … FOR UPDATE`), checks the state inside the lock, bumps
`version` and commits; Classy is never called while the lock is held (verify first, then lock, re-check
and store). These functions own their transactions because a verification failure must still leave
an audit event behind while nothing else is stored. After a commit that asks for a sync they wake the
scheduler; after one that stops syncing they stop a sync running in this process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.classy import Token
from app.db.base import utc_now
from app.db.models import Integration, IntegrationStatus
from app.db.repositories import integrations as repo
from app.db.repositories import oauth_states
from app.db.repositories import webhooks as webhooks_repo
from app.db.repositories.credentials import erase_credentials, store_credentials
from app.errors import AppError, ConflictError, TooManyRequestsError
from app.security.crypto import Encryptor
from app.security.throttle import AttemptThrottle
from app.services import oauth
from app.services.classy_checks import CredentialCheck
from app.services.signals import SyncSignals
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

S = IntegrationStatus
CONNECT_STATES = (S.AVAILABLE, S.DISCONNECTED, S.AWAITING_CREDENTIALS)
SAVE_STATES = (S.AWAITING_CREDENTIALS, S.AWAITING_AUTHORIZATION)
RECONNECT_STATES = (S.DISCONNECTED,)
SYNCING_STATES = (S.CONNECTED, S.ERROR)
DISCONNECT_STATES = (S.CONNECTED, S.PAUSED, S.ERROR, S.AWAITING_CREDENTIALS, S.AWAITING_AUTHORIZATION)


@dataclass(frozen=True)
class Lifecycle:
    """What lifecycle writes need besides the session."""

    settings: Settings
    encryptor: Encryptor
    classy: CredentialCheck
    sync: SyncSignals
    # Save and Reconnect attempts per account (each one calls Classy's token endpoint); None: unlimited.
    credential_attempts: AttemptThrottle | None = None


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

    @property
    def status(self) -> IntegrationStatus:
        return self.integration.status if self.integration is not None else IntegrationStatus.AVAILABLE


async def get_view(
    session: AsyncSession, *, account: str, include_requested: bool = False
) -> IntegrationView:
    """The account's Classy integration with `sync_running` worked out (see `repo.is_sync_running`)."""
    integration, running = await repo.get_integration_and_whether_running(
        session, account=account, app_slug=APP_SLUG, now=utc_now(), include_requested=include_requested
    )
    return IntegrationView(integration, sync_running=running)


async def connect(session: AsyncSession, life: Lifecycle, *, account: str, actor: Actor) -> IntegrationView:
    """available/disconnected → awaiting_credentials (idempotent when already there)."""
    await repo.ensure_integration(session, account=account, app_slug=APP_SLUG)
    integration = await lock_in_state(session, account=account, allowed=CONNECT_STATES, action="connect")
    if integration.status != S.AWAITING_CREDENTIALS:
        now = utc_now()
        previous = integration.status
        integration.status = S.AWAITING_CREDENTIALS
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
    """Verify outside any lock, then lock, re-check the state and store (the two flows differ only there)."""
    allowed = RECONNECT_STATES if action == "reconnect" else SAVE_STATES
    verb = "reconnect" if action == "reconnect" else "save credentials"
    token = await _verify(session, life, account=account, actor=actor, form=form, allowed=allowed, verb=verb)
    integration = await lock_in_state(session, account=account, allowed=allowed, action=verb)
    now = utc_now()
    integration.client_id = form.client_id
    integration.auth_flow = life.settings.classy_auth_flow
    view = IntegrationView(integration)
    details: dict[str, Any] = {"client_id": form.client_id, "organization_id": form.organization_id}
    if life.settings.classy_auth_flow == "authorization_code":
        view.authorize_url = await _await_authorization(session, life, integration, actor, form, now=now)
    else:
        details.update(await _connect_with_token(session, life, integration, actor, form, token, now=now))
    details["status"] = integration.status
    bump(integration)
    audit_action = "reconnect" if action == "reconnect" else "save_credentials"
    await audit(session, integration, audit_action, actor, now=now, details=details)
    await session.commit()
    if integration.status == S.CONNECTED:
        life.sync.wake()
        view.sync_running = life.settings.scheduler_enabled  # the first run is requested: as `GET` says
    return view


async def authorize(
    session: AsyncSession, life: Lifecycle, *, code: str | None, state: str | None, error: str | None
) -> None:
    """The Classy login came back to our callback: connect, and the first sync starts at once.

    Raises `oauth.CallbackFailure` (nothing changed) when the login cannot complete the connection.
    """
    await oauth.complete_authorization(
        session, life.encryptor, life.classy, code=code, state=state, error=error
    )
    life.sync.wake()


async def _verify(
    session: AsyncSession,
    life: Lifecycle,
    *,
    account: str,
    actor: Actor,
    form: CredentialsInput,
    allowed: tuple[IntegrationStatus, ...],
    verb: str,
) -> Token:
    """Fail fast on the state, then ask Classy (no transaction open meanwhile); a rejection is audited."""
    found = await repo.get_integration(session, account=account, app_slug=APP_SLUG)
    integration_id = check_state(found, allowed=allowed, action=verb).id
    await session.rollback()  # end the read transaction: nothing is held while Classy answers
    # Counted only now: a call refused for the state (409) never reaches Classy, so it costs nothing.
    throttle = life.credential_attempts
    wait = throttle.try_acquire(account) if throttle is not None else None
    if wait is not None:
        raise TooManyRequestsError(
            f"Too many credential checks for this account; try again in {wait} seconds.", retry_after=wait
        )
    try:
        return await life.classy.verify_app(
            client_id=form.client_id, client_secret=form.client_secret, organization_id=form.organization_id
        )
    except AppError as exc:
        await _record_rejection(session, integration_id, actor, form, exc)
        raise


async def _await_authorization(
    session: AsyncSession,
    life: Lifecycle,
    integration: Integration,
    actor: Actor,
    form: CredentialsInput,
    *,
    now: datetime,
) -> str:
    """authorization_code: keep what the code exchange will need and return the Classy login URL."""
    # The member token comes from the callback.
    await store_credentials(
        session,
        life.encryptor,
        integration_id=integration.id,
        client_id=form.client_id,
        client_secret=form.client_secret,
    )
    integration.organization_id = form.organization_id
    integration.status = S.AWAITING_AUTHORIZATION
    state = await oauth.issue_state(session, integration, actor=actor, now=now)
    return life.classy.authorize_url(client_id=form.client_id, state=state)


async def _connect_with_token(
    session: AsyncSession,
    life: Lifecycle,
    integration: Integration,
    actor: Actor,
    form: CredentialsInput,
    token: Token,
    *,
    now: datetime,
) -> dict[str, Any]:
    """client_credentials: store the secret and the token just obtained, and connect (audit details)."""
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
    return await complete_connection(
        session, integration, organization_id=form.organization_id, actor=actor, now=now
    )


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


async def pause(session: AsyncSession, life: Lifecycle, *, account: str, actor: Actor) -> IntegrationView:
    """connected/error → paused; credentials stay, nothing is fetched (a running sync stops)."""
    integration = await lock_in_state(session, account=account, allowed=SYNCING_STATES, action="pause")
    now = utc_now()
    previous = integration.status
    integration.status = S.PAUSED
    integration.paused_by, integration.paused_by_name, integration.paused_at = actor.sub, actor.name, now
    bump(integration)
    await audit(session, integration, "pause", actor, now=now, details={"previous_status": previous})
    await session.commit()
    life.sync.request_stop(integration.id)
    return IntegrationView(integration)


async def resume(session: AsyncSession, life: Lifecycle, *, account: str, actor: Actor) -> IntegrationView:
    """paused → connected, and a sync of everything changed since the last successful one starts."""
    integration = await lock_in_state(session, account=account, allowed=(S.PAUSED,), action="resume")
    now = utc_now()
    integration.status = S.CONNECTED
    integration.resumed_by, integration.resumed_by_name, integration.resumed_at = actor.sub, actor.name, now
    request_sync(integration, "resume", now=now)
    bump(integration)
    await audit(session, integration, "resume", actor, now=now, details={"sync_trigger": "resume"})
    await session.commit()
    life.sync.wake()
    # As `GET` says from now on: the requested run counts as running where a scheduler will take it.
    return IntegrationView(integration, sync_running=life.settings.scheduler_enabled)


async def disconnect(
    session: AsyncSession, life: Lifecycle, *, account: str, actor: Actor
) -> IntegrationView:
    """→ disconnected: secrets, tokens, webhook secret, pending logins erased; data kept; a sync stops."""
    integration = await lock_in_state(
        session, account=account, allowed=DISCONNECT_STATES, action="disconnect"
    )
    now = utc_now()
    previous = integration.status
    await erase_credentials(session, integration.id)
    await webhooks_repo.delete_endpoint(session, integration.id)  # the signing secret too; its URL 404s
    await oauth_states.delete_pending_states(session, integration.id)
    integration.status = S.DISCONNECTED
    integration.disconnected_by = actor.sub
    integration.disconnected_by_name = actor.name
    integration.disconnected_at = now
    integration.sync_requested_trigger = None
    integration.sync_requested_mode = None
    integration.next_sync_at = None
    bump(integration)
    details = {"previous_status": previous, "organization_id": integration.organization_id}
    await audit(session, integration, "disconnect", actor, now=now, details=details)
    await session.commit()
    life.sync.request_stop(integration.id)
    return IntegrationView(integration)


async def request_manual_sync(
    session: AsyncSession, life: Lifecycle, *, account: str, actor: Actor, mode: str = "incremental"
) -> IntegrationView:
    """Ask for a sync in `mode` now (incremental, reconcile or full); 409 when one is already running."""
    integration = await lock_in_state(session, account=account, allowed=SYNCING_STATES, action="sync")
    now = utc_now()
    # A sync asked for a moment ago is already this one (a double click, a script's retry): 409 too.
    include = life.settings.scheduler_enabled
    if await repo.is_sync_running(session, integration, now=now, include_requested=include):
        raise ConflictError(
            "A sync of this Classy integration is already running; wait for it to finish.",
            code="sync_running",
        )
    request_sync(integration, "manual", now=now, mode=mode)
    bump(integration)
    details = {"sync_trigger": "manual", "sync_mode": mode}
    await audit(session, integration, "sync_requested", actor, now=now, details=details)
    await session.commit()
    life.sync.wake()
    return IntegrationView(integration, sync_running=include)
