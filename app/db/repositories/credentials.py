"""Encrypted credential rows: the only place secrets are sealed and opened."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Credential
from app.logging import forget_secrets, register_secret
from app.security.crypto import Encryptor, Sealed


@dataclass(frozen=True)
class PlainCredentials:
    """Decrypted credentials, for talking to Classy; never returned by the API or logged."""

    client_id: str
    client_secret: str
    access_token: str | None
    refresh_token: str | None
    token_expires_at: datetime | None

    def __repr__(self) -> str:
        return f"PlainCredentials(client_id={self.client_id!r}, secrets=***)"


def _context(integration_id: int, field: str) -> bytes:
    # Binds each ciphertext to its row and column: a blob copied elsewhere will not decrypt.
    return f"credential:{integration_id}:{field}".encode()


def _owner(integration_id: int) -> str:
    """Whose secrets these are, for the log redaction registry (dropped on disconnect)."""
    return f"integration:{integration_id}"


def _seal(encryptor: Encryptor, integration_id: int, field: str, value: str | None) -> Sealed | None:
    if value is None:
        return None
    register_secret(value, owner=_owner(integration_id), name=field)  # replaces the previous one
    return encryptor.seal(value, context=_context(integration_id, field))


def _open(
    encryptor: Encryptor, integration_id: int, field: str, blob: bytes | None, key_id: str | None
) -> str | None:
    if blob is None or key_id is None:
        return None
    value = encryptor.open(Sealed(key_id, blob), context=_context(integration_id, field))
    register_secret(value, owner=_owner(integration_id), name=field)
    return value


async def store_credentials(
    session: AsyncSession,
    encryptor: Encryptor,
    *,
    integration_id: int,
    client_id: str,
    client_secret: str,
    access_token: str | None = None,
    refresh_token: str | None = None,
    token_expires_at: datetime | None = None,
) -> None:
    """Replace the integration's credentials with these (sealed under the current key)."""
    row = await session.get(Credential, integration_id)
    if row is None:
        row = Credential(integration_id=integration_id)
        session.add(row)
    secret = _seal(encryptor, integration_id, "client_secret", client_secret)
    assert secret is not None
    row.client_id = client_id
    row.client_secret_ciphertext, row.client_secret_key_id = secret.blob, secret.key_id
    _set_tokens(row, encryptor, integration_id, access_token, refresh_token, token_expires_at)
    await session.flush()


async def store_tokens(
    session: AsyncSession,
    encryptor: Encryptor,
    *,
    integration_id: int,
    access_token: str | None,
    refresh_token: str | None,
    token_expires_at: datetime | None,
) -> None:
    """Keep a newly issued Classy token (e.g. after a refresh)."""
    row = await session.get(Credential, integration_id, with_for_update=True)
    if row is None:
        return
    _set_tokens(row, encryptor, integration_id, access_token, refresh_token, token_expires_at)
    await session.flush()


def _set_tokens(
    row: Credential,
    encryptor: Encryptor,
    integration_id: int,
    access_token: str | None,
    refresh_token: str | None,
    token_expires_at: datetime | None,
) -> None:
    access = _seal(encryptor, integration_id, "access_token", access_token)
    refresh = _seal(encryptor, integration_id, "refresh_token", refresh_token)
    row.access_token_ciphertext = access.blob if access else None
    row.access_token_key_id = access.key_id if access else None
    row.refresh_token_ciphertext = refresh.blob if refresh else None
    row.refresh_token_key_id = refresh.key_id if refresh else None
    row.token_expires_at = token_expires_at


async def load_credentials(
    session: AsyncSession, encryptor: Encryptor, integration_id: int
) -> PlainCredentials | None:
    """Decrypt the integration's credentials, or None when there are none (disconnected)."""
    row = await session.get(Credential, integration_id)
    if row is None:
        return None
    secret = _open(
        encryptor, integration_id, "client_secret", row.client_secret_ciphertext, row.client_secret_key_id
    )
    assert secret is not None
    return PlainCredentials(
        client_id=row.client_id,
        client_secret=secret,
        access_token=_open(
            encryptor, integration_id, "access_token", row.access_token_ciphertext, row.access_token_key_id
        ),
        refresh_token=_open(
            encryptor, integration_id, "refresh_token", row.refresh_token_ciphertext, row.refresh_token_key_id
        ),
        token_expires_at=row.token_expires_at,
    )


async def erase_credentials(session: AsyncSession, integration_id: int) -> None:
    """Delete every stored secret and token of the integration (disconnect)."""
    await session.execute(delete(Credential).where(Credential.integration_id == integration_id))
    forget_secrets(_owner(integration_id))


async def reencrypt_all(session: AsyncSession, encryptor: Encryptor) -> int:
    """Re-seal every credential not under the current key; returns how many rows changed."""
    rows = (await session.execute(select(Credential).with_for_update())).scalars().all()
    changed = 0
    for row in rows:
        key_ids = {row.client_secret_key_id, row.access_token_key_id, row.refresh_token_key_id} - {None}
        if not any(encryptor.needs_rotation(k) for k in key_ids if k):
            continue
        plain = await load_credentials(session, encryptor, row.integration_id)
        assert plain is not None
        await store_credentials(
            session,
            encryptor,
            integration_id=row.integration_id,
            client_id=plain.client_id,
            client_secret=plain.client_secret,
            access_token=plain.access_token,
            refresh_token=plain.refresh_token,
            token_expires_at=plain.token_expires_at,
        )
        changed += 1
    return changed
