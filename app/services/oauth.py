"""Authorization-code flow: the single-use `state` and the callback that completes a connection.

The state is 32 random bytes handed to the browser; only its sha256 is stored, bound to the account,
the user who saved and the integration, for 10 minutes. The callback consumes it atomically before
anything else, so a replay, even racing the first use, fails. Every failure leaves the integration
as it was; the API turns the outcome into a redirect to FRONTEND_URL.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.classy import Token
from app.db.base import utc_now
from app.db.models import Integration, IntegrationStatus
from app.db.repositories import integrations as repo
from app.db.repositories import oauth_states
from app.db.repositories.credentials import PlainCredentials, load_credentials, store_credentials
from app.errors import AppError
from app.security.crypto import Encryptor
from app.services.classy_checks import CredentialCheck
from app.services.transitions import Actor, audit, bump, complete_connection

logger = logging.getLogger(__name__)

STATE_TTL = timedelta(minutes=10)


class CallbackFailure(Exception):
    """The callback cannot complete; `code` goes to the front-end as `?error=<code>`."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def hash_state(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


async def issue_state(session: AsyncSession, integration: Integration, *, actor: Actor, now: datetime) -> str:
    """A fresh state for the integration (older pending ones are forgotten); returns the raw value."""
    previous = await repo.last_connected_organization(session, integration_id=integration.id)
    await oauth_states.delete_pending_states(session, integration.id)
    state = secrets.token_urlsafe(32)
    await oauth_states.add_state(
        session,
        state_hash=hash_state(state),
        integration_id=integration.id,
        account=integration.account,
        user_sub=actor.sub,
        user_name=actor.name,
        lifecycle_action="connect" if previous is None else "reconnect",
        expires_at=now + STATE_TTL,
    )
    return state


@dataclass(frozen=True)
class _Claimed:
    """A consumed state with what the code exchange and the connection need (secret hidden from repr)."""

    integration_id: int
    organization_id: int
    version: int
    actor: Actor
    lifecycle_action: str
    credentials: PlainCredentials = field(repr=False)


async def complete_authorization(
    session: AsyncSession,
    encryptor: Encryptor,
    classy: CredentialCheck,
    *,
    code: str | None,
    state: str | None,
    error: str | None,
) -> None:
    """Finish the Classy login; raises `CallbackFailure` (nothing changed) when it cannot.

    Three steps, each in its own transaction or none: consume the state, exchange the code with
    Classy (no lock held), then lock the integration, re-check it and connect.
    """
    claimed, code = await _claim_state(session, encryptor, code=code, state=state, error=error)
    try:
        token = await classy.verify_code(
            client_id=claimed.credentials.client_id,
            client_secret=claimed.credentials.client_secret,
            code=code,
            organization_id=claimed.organization_id,
        )
    except AppError as exc:
        await _record_failure(session, claimed.integration_id, claimed.actor, exc.code)
        raise CallbackFailure(exc.code) from None
    await _connect(session, encryptor, claimed, token)


async def _claim_state(
    session: AsyncSession, encryptor: Encryptor, *, code: str | None, state: str | None, error: str | None
) -> tuple[_Claimed, str]:
    """Check the callback's parameters against the stored state and consume it (single use, atomic)."""
    if not state:
        raise CallbackFailure("access_denied" if error else "invalid_state")
    state_hash = hash_state(state)
    now = utc_now()
    stored = await oauth_states.get_state(session, state_hash)
    if stored is None or stored.used_at is not None:
        raise CallbackFailure("invalid_state")
    if stored.expires_at <= now:
        raise CallbackFailure("expired_state")
    if error:
        raise CallbackFailure("access_denied" if error == "access_denied" else "authorization_failed")
    if not code:
        raise CallbackFailure("invalid_code")
    integration = await session.get(Integration, stored.integration_id)
    if (
        integration is None
        or integration.account != stored.account
        or integration.status != IntegrationStatus.AWAITING_AUTHORIZATION
        or integration.organization_id is None
    ):
        raise CallbackFailure("invalid_state")
    integration_id, organization_id, version = (
        integration.id,
        integration.organization_id,
        integration.version,
    )
    actor = Actor(stored.user_sub, stored.user_name)
    lifecycle_action = stored.lifecycle_action
    # Consume first, then talk to Classy without holding any lock.
    if await oauth_states.consume_state(session, state_hash, now=now) is None:
        await session.rollback()
        raise CallbackFailure("invalid_state")
    plain = await load_credentials(session, encryptor, integration_id)
    await session.commit()
    if plain is None:
        raise CallbackFailure("invalid_state")
    return _Claimed(integration_id, organization_id, version, actor, lifecycle_action, plain), code


async def _connect(session: AsyncSession, encryptor: Encryptor, claimed: _Claimed, token: Token) -> None:
    """Store the member token and connect, unless the integration changed since the state was issued."""
    locked = await repo.lock_integration_by_id(session, claimed.integration_id)
    if (
        locked is None
        or locked.version != claimed.version
        or locked.status != IntegrationStatus.AWAITING_AUTHORIZATION
    ):
        await session.rollback()  # re-saved or disconnected meanwhile: this login is stale
        raise CallbackFailure("invalid_state")
    now = utc_now()
    await store_credentials(
        session,
        encryptor,
        integration_id=claimed.integration_id,
        client_id=claimed.credentials.client_id,
        client_secret=claimed.credentials.client_secret,
        access_token=token.access_token,
        refresh_token=token.refresh_token,
        token_expires_at=token.expires_at,
    )
    details = await complete_connection(
        session, locked, organization_id=claimed.organization_id, actor=claimed.actor, now=now
    )
    details.update(lifecycle_action=claimed.lifecycle_action, status=IntegrationStatus.CONNECTED)
    bump(locked)
    await audit(session, locked, "authorize", claimed.actor, now=now, details=details)
    await session.commit()


async def _record_failure(session: AsyncSession, integration_id: int, actor: Actor, reason: str) -> None:
    integration = await session.get(Integration, integration_id)
    if integration is not None:
        await audit(
            session, integration, "authorization_failed", actor, now=utc_now(), details={"reason": reason}
        )
        await session.commit()
    logger.info("classy authorization failed", extra={"integration_id": integration_id, "reason": reason})
