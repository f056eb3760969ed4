"""The scheduler's job: claim due integrations through Postgres leases and run their syncs.

Work is claimed with `FOR UPDATE SKIP LOCKED` and a lease with an expiry, so several replicas never
sync one integration at once and a crashed replica's integration is taken over once its lease runs
out. A heartbeat keeps the lease while a run waits on Classy (rate limits, retries).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from sqlalchemy import case
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.classy import ClassyAuthError, ClassyClient, ClassyError, ClassyOrganizationAccessError
from app.db.base import utc_now
from app.db.models import Integration, SyncRun
from app.db.models import IntegrationStatus as S
from app.db.outage import is_database_outage
from app.db.repositories import sync_state
from app.logging import bind_task_log_context, describe_exception
from app.metrics import SYNC_RETRIES, SYNC_RUN_SECONDS, SYNC_RUNNING, SYNC_RUNS
from app.security.crypto import Encryptor
from app.settings import Settings
from app.sync.clients import load_client
from app.sync.context import SyncContext
from app.sync.durability import COMMITS_LOST, CommitsLost
from app.sync.engine import IntegrationSync, SyncStopped
from app.sync.heartbeat import Heartbeat
from app.sync.housekeeping import Housekeeping
from app.sync.isolation import StreamsFailed
from app.sync.outage import DATABASE_LOST, retry_through_outage
from app.sync.reconcile import RECONCILING_MODES, reconcile_due_at, run_mode
from app.sync.scheduler import SyncScheduler
from app.sync.sweeper import OrphanSweeper
from app.sync.unloadable import load_failure_sentence, record_unloadable
from app.sync.webhook_latency import record_served_deliveries
from app.sync.window import UnorderedPageError

logger = logging.getLogger(__name__)


def retry_delay(settings: Settings, failures: int) -> timedelta:
    """Capped exponential backoff after failed runs: no crash loop, no hammering a broken account."""
    return timedelta(seconds=min(settings.sync_interval_seconds, 15 * 2 ** min(failures, 10)))


async def run_integration(ctx: SyncContext, integration_id: int) -> str:
    """Run one claimed integration's sync to its end; returns the run's status."""
    # The integration, its credentials and the run record: one transaction.
    run: SyncRun | None = None
    client: ClassyClient | None = None
    load_error: Exception | None = None
    async with ctx.sessionmaker() as session:
        integration = await sync_state.get_integration(session, integration_id)
        if integration is not None:
            try:
                client = await load_client(ctx, integration_id, session)
            except Exception as exc:
                load_error = exc
        syncable = integration is not None and integration.status in sync_state.SYNCABLE_STATUSES
        if client is not None and integration is not None and syncable:
            trigger = integration.sync_requested_trigger or "scheduled"
            mode = run_mode(integration, trigger, ctx.settings, now=utc_now())
            run = await sync_state.start_run(
                session,
                integration_id=integration_id,
                organization_id=integration.organization_id,
                trigger=trigger,
                worker=ctx.worker,
                mode=mode,
            )
            await session.commit()
    if load_error is not None:
        assert integration is not None
        sentence, retry_in = (
            load_failure_sentence(load_error),
            retry_delay(ctx.settings, integration.consecutive_failures + 1),
        )
        trigger = integration.sync_requested_trigger or "scheduled"
        await retry_through_outage(
            lambda: record_unloadable(ctx, integration, sentence, retry_in, trigger),
            within=ctx.settings.sync_lease_seconds,
        )
        SYNC_RUNS.labels(trigger, "failed").inc()
        return "failed"
    if run is None or integration is None or client is None:
        async with ctx.sessionmaker() as session, session.begin():
            await sync_state.release_lease(session, integration_id=integration_id, worker=ctx.worker)
        return "skipped"
    bind_task_log_context(integration_id=integration_id, run_id=run.id)  # on every line of this run
    stop = ctx.stop_signals.arm(integration_id)
    sync = IntegrationSync(ctx, integration, run.id, client, stop, mode=mode, trigger=run.trigger)
    lease = Heartbeat(ctx, integration_id, stop)
    heartbeat = asyncio.create_task(lease.run(), name=f"lease-heartbeat-{integration_id}")
    started = time.monotonic()
    SYNC_RUNNING.inc()
    status, error, auth_failed = "succeeded", None, False
    try:
        async with client:
            await sync.run()
    except SyncStopped as exc:
        status, error = ("failed", lease.failure) if lease.failure else ("cancelled", str(exc))
    except CommitsLost as exc:
        status, error = "failed", str(exc)
    except (ClassyAuthError, ClassyOrganizationAccessError) as exc:
        # Revoked credentials, or the app lost access to the organization: the admin must act.
        status, error, auth_failed = "failed", exc.sentence, True
    except ClassyError as exc:
        status, error = "failed", exc.sentence
    except StreamsFailed as exc:  # the other streams finished, their rows and checkpoints committed
        status, error = "failed", exc.sentence
    except UnorderedPageError as exc:
        status, error = "failed", f"{exc} The sync stopped rather than risk skipping records."
    except asyncio.CancelledError:
        status, error = "cancelled", "The service shut down during the sync; it resumes from its checkpoint."
        raise
    except Exception as exc:
        if is_database_outage(exc):
            logger.warning("sync run lost the database", extra={"integration_id": integration_id})
            status, error = "failed", DATABASE_LOST
        else:
            # Never the exception's message: a database error quotes the page's values (donor data).
            logger.error(
                "sync run crashed", extra={"integration_id": integration_id, "error": describe_exception(exc)}
            )
            status, error = "failed", "The sync failed unexpectedly; it will be retried."
    finally:
        heartbeat.cancel()
        ctx.stop_signals.disarm(integration_id, stop)
        SYNC_RUNNING.dec()
        SYNC_RETRIES.inc(client.retry_count)
        SYNC_RUNS.labels(trigger, status).inc()
        SYNC_RUN_SECONDS.observe(time.monotonic() - started)
        finish = retry_through_outage(
            lambda: _finish(ctx, integration, sync, status=status, error=error, auth_failed=auth_failed),
            within=ctx.settings.sync_lease_seconds,
        )
        await asyncio.shield(asyncio.ensure_future(finish))
    if status == "succeeded":
        await record_served_deliveries(ctx, integration_id, run_started_at=run.started_at)
    logger.info(
        "sync run finished",
        extra={
            "integration_id": integration_id,
            "status": status,
            "streams": {name: counts.as_dict() for name, counts in sync.counts.items()},
        },
    )
    return status


async def _finish(
    ctx: SyncContext,
    integration: Integration,
    sync: IntegrationSync,
    *,
    status: str,
    error: str | None,
    auth_failed: bool,
) -> None:
    """Record the run's outcome and give the lease back, in one transaction."""
    now = utc_now()
    streams = {name: counts.as_dict() for name, counts in sync.counts.items()}
    async with ctx.sessionmaker() as session, session.begin():
        # Locked: a lifecycle change or webhook committed meanwhile is either seen here or waits for us.
        current = await sync_state.get_integration(session, integration.id, lock=True)
        if status == "succeeded" and current is not None and sync.ledger.lost(current.sync_commits):
            status, error = "failed", COMMITS_LOST  # a crash took the last commits: redo them next run
        await sync_state.update_run(
            session, sync.run_id, status=status, finished_at=now, error=error, streams=streams
        )
        changed_meanwhile = current is not None and current.version != integration.version
        values: dict[str, object] = {}
        if status == "succeeded":
            next_sync = now + timedelta(seconds=ctx.settings.sync_interval_seconds)
            reconciled_at = now if sync.mode in RECONCILING_MODES else None
            if reconciled_at is not None:
                values["last_reconciled_at"] = reconciled_at
            due = reconcile_due_at(integration, ctx.settings, reconciled_at=reconciled_at)
            values = {
                **values,
                "last_synced_at": now,
                "last_error": None,
                "consecutive_failures": 0,
                "status": case((Integration.status == S.ERROR, S.CONNECTED), else_=Integration.status),
                # The scheduled reconcile runs on its own clock when it comes before the next sync.
                # Changed meanwhile: one more run, at once (or when a webhook's debounce ends).
                "next_sync_at": max(now, current.next_sync_at or now)
                if current is not None and changed_meanwhile
                else min(next_sync, due or next_sync),
            }
            if not changed_meanwhile:
                values["sync_requested_trigger"] = None
                values["sync_requested_mode"] = None
        elif status == "failed":
            failures = integration.consecutive_failures + 1
            values = {
                "last_error": error,
                "consecutive_failures": failures,
                "next_sync_at": now + retry_delay(ctx.settings, failures),
            }
            if auth_failed:
                values["status"] = case(
                    (Integration.status.in_(sync_state.SYNCABLE_STATUSES), S.ERROR), else_=Integration.status
                )
        elif error and "shut down" in error:
            values = {"next_sync_at": now}
        await sync_state.release_lease(session, integration_id=integration.id, worker=ctx.worker, **values)


def build_scheduler(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], encryptor: Encryptor
) -> SyncScheduler:
    """The process's scheduler; each tick claims due integrations up to `SYNC_CONCURRENCY` at once."""
    scheduler = SyncScheduler(
        None,
        interval=settings.scheduler_tick_seconds,
        enabled=settings.scheduler_enabled,
        own_thread=settings.sync_own_thread,
        thread_nice=settings.sync_thread_nice,
    )
    ctx = SyncContext(
        settings=settings,
        sessionmaker=sessionmaker,
        encryptor=encryptor,
        worker=scheduler.worker_id,
        stop_signals=scheduler.stop_signals,
    )

    sweeper = OrphanSweeper(sessionmaker, interval=settings.sync_lease_seconds)
    housekeeping = Housekeeping(sessionmaker)

    async def tick(scheduler: SyncScheduler) -> None:
        await sweeper.maybe_sweep()
        await housekeeping.maybe_run()  # at most every few minutes; never raises
        free = settings.sync_concurrency - len(scheduler.running_jobs)
        if free <= 0 or scheduler.stopping:
            return
        async with sessionmaker() as session, session.begin():
            ids = await sync_state.claim_due_integrations(
                session, worker=ctx.worker, lease_seconds=settings.sync_lease_seconds, limit=free
            )
        for integration_id in ids:
            scheduler.launch(run_integration(ctx, integration_id), name=f"sync-{integration_id}")

    scheduler.set_tick(tick)
    return scheduler
