"""The commit ledger counts only commits Postgres acknowledged (app/sync/durability.py).

A pause is seen by a page transaction's own lease renewal, which then rolls back, increment and all.
Streams whose transactions were queued behind it on the integration row see the lower counter; had
the ledger counted the rolled-back increment, they would report lost commits and the paused run would
end `failed` instead of `cancelled` (it did, in a CI run of the pause tests). A commit that really is
lost must still stop the run.
"""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.classy import ClassyClient
from app.db.models import Integration
from app.db.repositories import sync_state
from app.security.crypto import Encryptor
from app.sync.context import SyncContext
from app.sync.durability import CommitsLost
from app.sync.engine import IntegrationSync, SyncStopped
from tests.conftest import make_settings

WORKER = "ledger-test"


async def _progress(sync: IntegrationSync, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        await sync._record_progress(session)


async def _set(sessionmaker: async_sessionmaker[AsyncSession], integration_id: int, **values: object) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(update(Integration).where(Integration.id == integration_id).values(**values))


async def test_a_rolled_back_renewal_is_not_counted_and_a_lost_commit_still_stops_the_run(
    db: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    settings = make_settings(database_url)
    async with sessionmaker() as session, session.begin():
        integration = Integration(account="acme", status="connected", organization_id=1, lease_owner=WORKER)
        session.add(integration)
        await session.flush()
        run = await sync_state.start_run(
            session, integration_id=integration.id, organization_id=1, trigger="manual", worker=WORKER
        )
    ctx = SyncContext(
        settings=settings,
        sessionmaker=sessionmaker,
        encryptor=Encryptor(settings.encryption_key_ring()),
        worker=WORKER,
    )
    client = ClassyClient(client_id="id", client_secret="secret")
    sync = IntegrationSync(ctx, integration, run.id, client)

    await _progress(sync, sessionmaker)
    assert sync.ledger.known == 1

    # The admin pauses: the next page transaction sees it and rolls back its own increment.
    await _set(sessionmaker, integration.id, status="paused")
    with pytest.raises(SyncStopped):
        await _progress(sync, sessionmaker)
    assert sync.ledger.known == 1
    # A stream queued behind it sees the counter without that increment: still a pause, not a loss.
    with pytest.raises(SyncStopped):
        await _progress(sync, sessionmaker)

    # Resumed: transactions go on. Then a crash takes the last acknowledged commit: the run stops.
    await _set(sessionmaker, integration.id, status="connected")
    await _progress(sync, sessionmaker)
    assert sync.ledger.known == 2
    await _set(sessionmaker, integration.id, sync_commits=Integration.sync_commits - 1)
    with pytest.raises(CommitsLost):
        await _progress(sync, sessionmaker)
    async with sessionmaker() as session:
        current = await sync_state.get_integration(session, integration.id)
    assert current is not None and sync.ledger.lost(current.sync_commits)
    await client.aclose()
