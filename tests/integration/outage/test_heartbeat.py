"""The lease heartbeat against a database that goes away: it stops the run instead of carrying on."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select

from app.db.models import Integration
from app.db.session import create_engine, create_sessionmaker
from app.security.crypto import Encryptor
from app.sync.context import SyncContext
from app.sync.heartbeat import LEASE_LOST, Heartbeat
from tests.conftest import make_settings
from tests.integration.outage.cluster import ThrowawayCluster
from tests.integration.outage.conftest import fresh_database


async def test_renewal_failures_stop_the_run_before_the_lease_can_run_out(
    durable_cluster: ThrowawayCluster,
) -> None:
    url = await fresh_database(durable_cluster)
    settings = make_settings(url, SYNC_LEASE_SECONDS=3)
    engine = create_engine(url, pool_size=2)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as session, session.begin():
            row = Integration(account="acme", status="connected", lease_owner="me")
            session.add(row)
        ctx = SyncContext(
            settings=settings,
            sessionmaker=sessionmaker,
            encryptor=Encryptor(settings.encryption_key_ring()),
            worker="me",
        )
        stop = asyncio.Event()
        heartbeat = Heartbeat(ctx, row.id, stop)
        task = asyncio.create_task(heartbeat.run())
        # While the database answers, renewals move the lease on and the run goes on.
        await asyncio.sleep(2.5)
        async with sessionmaker() as session:
            expires = await session.scalar(select(Integration.lease_expires_at))
        assert expires is not None and not stop.is_set()
        await asyncio.to_thread(durable_cluster.crash)
        crashed = time.monotonic()
        await asyncio.wait_for(stop.wait(), 10)
        # Stopped within the lease (3 s from the last renewal), not swallowed, and said why.
        assert time.monotonic() - crashed < 3
        assert heartbeat.failure == LEASE_LOST
        await asyncio.wait_for(task, 1)
    finally:
        await engine.dispose()
        if not durable_cluster.running():
            await asyncio.to_thread(durable_cluster.start)
