"""Pending OAuth states (stored as sha256 hashes): create, consume once, forget."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import OAuthState


async def add_state(
    session: AsyncSession,
    *,
    state_hash: str,
    integration_id: int,
    account: str,
    user_sub: str,
    user_name: str | None,
    lifecycle_action: str,
    expires_at: datetime,
) -> None:
    """Remember a state handed to the browser."""
    session.add(
        OAuthState(
            state_hash=state_hash,
            integration_id=integration_id,
            account=account,
            user_sub=user_sub,
            user_name=user_name,
            lifecycle_action=lifecycle_action,
            expires_at=expires_at,
        )
    )
    await session.flush()


async def get_state(session: AsyncSession, state_hash: str) -> OAuthState | None:
    """The stored state with this hash, used or not."""
    return (
        await session.execute(select(OAuthState).where(OAuthState.state_hash == state_hash))
    ).scalar_one_or_none()


async def consume_state(session: AsyncSession, state_hash: str, *, now: datetime) -> OAuthState | None:
    """Mark the state used if it is unused and unexpired; None when another request got there first."""
    statement = (
        update(OAuthState)
        .where(
            OAuthState.state_hash == state_hash,
            OAuthState.used_at.is_(None),
            OAuthState.expires_at > now,
        )
        .values(used_at=now)
        .returning(OAuthState)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def delete_pending_states(session: AsyncSession, integration_id: int) -> None:
    """Forget every unused state of the integration (a new Save or a disconnect supersedes them)."""
    await session.execute(
        delete(OAuthState).where(OAuthState.integration_id == integration_id, OAuthState.used_at.is_(None))
    )


async def purge_states(session: AsyncSession, *, now: datetime, keep: timedelta = timedelta(hours=1)) -> int:
    """Delete states used or expired more than `keep` ago; returns how many.

    They are kept that long so a late or repeated callback still gets its precise error code.
    """
    cutoff = now - keep
    result = await session.execute(
        delete(OAuthState).where((OAuthState.used_at < cutoff) | (OAuthState.expires_at < cutoff))
    )
    return int(getattr(result, "rowcount", 0) or 0)
