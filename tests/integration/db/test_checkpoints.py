"""A stream's checkpoint goes into its cursor and comes back whole (one type, issue #15)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Integration
from app.db.repositories import sync_state
from app.db.repositories.sync_state import WHOLE, Checkpoint

ORG = 82364
T = datetime(2026, 11, 29, 12, 0, 1, tzinfo=UTC)


async def _save(session: AsyncSession, integration_id: int, cp: Checkpoint) -> str | None:
    async with session.begin():
        lease = await sync_state.record_progress(
            session,
            integration_id=integration_id,
            worker="w1",
            lease_seconds=60,
            run_id=0,
            streams=None,
            organization_id=ORG,
            stream="registrations",
            position=cp,
        )
    return None if lease is None else lease.status


async def _load(session: AsyncSession, integration_id: int) -> Checkpoint:
    cursor = await sync_state.get_cursor(
        session, integration_id=integration_id, organization_id=ORG, stream="registrations"
    )
    assert cursor is not None
    await session.commit()
    return sync_state.checkpoint_of(cursor)


async def test_every_field_of_a_checkpoint_survives_the_cursor(session: AsyncSession) -> None:
    integration = Integration(account="acme", status="connected", lease_owner="w1", organization_id=ORG)
    session.add(integration)
    await session.commit()
    assert sync_state.checkpoint_of(None) == Checkpoint()
    full = Checkpoint(
        window_start=T,
        window_end=T,
        position_ts=T,
        position_id=12,
        block_pass=2,
        block_page=3,
        read=WHOLE,
        completed_through=T,
        history_floor=T,
        fallback=WHOLE,
        fallback_checked_at=T,
        after_id=11,
        size=250,
    )
    assert await _save(session, integration.id, full) == "connected"
    assert await _load(session, integration.id) == full
    # Writing a later checkpoint replaces every field, including the ones kept in `state`.
    assert await _save(session, integration.id, Checkpoint(completed_through=T)) == "connected"
    assert await _load(session, integration.id) == Checkpoint(completed_through=T)
    # A worker that lost the lease is told so (and rolls its page back).
    integration.lease_owner = "w2"
    await session.commit()
    assert await _save(session, integration.id, full) is None


async def test_checkpoints_of_several_streams_commit_in_one_statement(session: AsyncSession) -> None:
    """Streams ending their reads together share one transaction (app/sync/group_commit.py)."""
    integration = Integration(account="acme", status="connected", lease_owner="w1", organization_id=ORG)
    session.add(integration)
    await session.commit()
    saved = {
        "supporters": Checkpoint(completed_through=T),
        "campaigns": Checkpoint(completed_through=T, fallback=WHOLE, fallback_checked_at=T, size=3),
        "registrations": Checkpoint(window_start=T, window_end=T, position_ts=T, position_id=5),
    }
    async with session.begin():
        lease = await sync_state.record_progress(
            session,
            integration_id=integration.id,
            worker="w1",
            lease_seconds=60,
            run_id=0,
            streams=None,
            organization_id=ORG,
            positions=saved,
        )
    assert lease is not None and lease.commits == 1  # one commit counted, not three
    cursors = await sync_state.get_cursors(session, integration_id=integration.id, organization_id=ORG)
    await session.commit()
    assert {name: sync_state.checkpoint_of(cursor) for name, cursor in cursors.items()} == saved
