"""Webhook endpoints (secret sealed like the Classy credentials) and the deliveries they received."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import utc_now
from app.db.models import WebhookDelivery, WebhookEndpoint
from app.logging import register_secret
from app.security.crypto import Encryptor, Sealed

# Svix retries a message for days, but a replay older than its 5-minute timestamp tolerance fails
# verification anyway: a day of remembered ids is ample.
REMEMBER_DELIVERIES = timedelta(days=1)


def _context(endpoint_id: str) -> bytes:
    # Binds the ciphertext to its endpoint: a blob copied to another row will not decrypt.
    return f"webhook_endpoint:{endpoint_id}:secret".encode()


@dataclass(frozen=True)
class OpenedEndpoint:
    """An endpoint with its signing secret decrypted (never returned by the API or logged)."""

    id: str
    integration_id: int
    secret: str | None  # None until the admin saves it

    def __repr__(self) -> str:
        return f"OpenedEndpoint(id={self.id!r}, integration_id={self.integration_id}, secret=***)"


async def get_for_integration(session: AsyncSession, integration_id: int) -> WebhookEndpoint | None:
    statement = select(WebhookEndpoint).where(WebhookEndpoint.integration_id == integration_id)
    return (await session.execute(statement)).scalar_one_or_none()


async def ensure_endpoint(session: AsyncSession, *, integration_id: int, new_id: str) -> WebhookEndpoint:
    """The integration's endpoint, created (with `new_id`, no secret yet) when it has none."""
    await session.execute(
        insert(WebhookEndpoint)
        .values(id=new_id, integration_id=integration_id, created_at=utc_now())
        .on_conflict_do_nothing(index_elements=["integration_id"])
    )
    row = await get_for_integration(session, integration_id)
    assert row is not None
    return row


async def store_secret(
    session: AsyncSession,
    encryptor: Encryptor,
    *,
    integration_id: int,
    new_id: str,
    secret: str,
    actor: str,
    actor_name: str | None,
    now: datetime,
) -> WebhookEndpoint:
    """Set the integration's signing secret (sealed); an existing endpoint keeps its id (the pasted URL)."""
    row = await ensure_endpoint(session, integration_id=integration_id, new_id=new_id)
    sealed = encryptor.seal(secret, context=_context(row.id))
    row.secret_ciphertext, row.secret_key_id = sealed.blob, sealed.key_id
    row.configured_at, row.configured_by, row.configured_by_name = now, actor, actor_name
    await session.flush()
    return row


async def delete_endpoint(session: AsyncSession, integration_id: int) -> bool:
    """Remove the endpoint (its URL answers 404 from now on); False when there was none."""
    result = await session.execute(
        delete(WebhookEndpoint)
        .where(WebhookEndpoint.integration_id == integration_id)
        .returning(WebhookEndpoint.id)
    )
    return result.scalar_one_or_none() is not None


async def open_endpoint(
    session: AsyncSession, encryptor: Encryptor, endpoint_id: str
) -> OpenedEndpoint | None:
    """The endpoint named by a delivery's URL, with its secret decrypted; None when unknown."""
    row = await session.get(WebhookEndpoint, endpoint_id)
    if row is None:
        return None
    secret = None
    if row.secret_ciphertext is not None and row.secret_key_id is not None:
        secret = encryptor.open(Sealed(row.secret_key_id, row.secret_ciphertext), context=_context(row.id))
        register_secret(secret)
    return OpenedEndpoint(row.id, row.integration_id, secret)


async def remember_delivery(
    session: AsyncSession,
    *,
    integration_id: int,
    message_id: str,
    event_type: str | None,
    outcome: str,
    now: datetime,
) -> bool:
    """Record a verified delivery; False when this message id was already handled (a replay)."""
    await session.execute(
        delete(WebhookDelivery).where(WebhookDelivery.received_at < now - REMEMBER_DELIVERIES)
    )
    result = await session.execute(
        insert(WebhookDelivery)
        .values(
            integration_id=integration_id,
            message_id=message_id,
            event_type=event_type,
            outcome=outcome,
            received_at=now,
        )
        .on_conflict_do_nothing(index_elements=["integration_id", "message_id"])
        .returning(WebhookDelivery.message_id)
    )
    handled = result.scalar_one_or_none() is not None
    if handled:
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.integration_id == integration_id)
            .values(last_event_at=now)
        )
    return handled


_MARK_SERVED = text(
    """
UPDATE webhook_delivery SET served_at = :finished_at
WHERE integration_id = :integration_id AND served_at IS NULL AND outcome = 'sync_requested'
  AND received_at <= :run_started_at
RETURNING extract(epoch FROM :finished_at - received_at)::float8 AS seconds
"""
)


async def mark_served(
    session: AsyncSession, *, integration_id: int, run_started_at: datetime, finished_at: datetime
) -> list[float]:
    """Deliveries received before a successful run started are served by it: their latencies (s)."""
    rows = await session.execute(
        _MARK_SERVED,
        {"integration_id": integration_id, "run_started_at": run_started_at, "finished_at": finished_at},
    )
    return [float(row.seconds) for row in rows]


async def reencrypt_all(session: AsyncSession, encryptor: Encryptor) -> int:
    """Re-seal every webhook secret not under the current key (key rotation); returns how many."""
    rows = (await session.execute(select(WebhookEndpoint).with_for_update())).scalars().all()
    changed = 0
    for row in rows:
        if row.secret_ciphertext is None or row.secret_key_id is None:
            continue
        if not encryptor.needs_rotation(row.secret_key_id):
            continue
        secret = encryptor.open(Sealed(row.secret_key_id, row.secret_ciphertext), context=_context(row.id))
        sealed = encryptor.seal(secret, context=_context(row.id))
        row.secret_ciphertext, row.secret_key_id = sealed.blob, sealed.key_id
        changed += 1
    await session.flush()
    return changed
