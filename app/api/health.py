"""Operations endpoints: liveness, readiness (really asks the database) and Prometheus metrics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text

from app.api.deps import RuntimeDep
from app.api.schemas import Readiness
from app.classy.ratelimit import wait_stats
from app.db.base import utc_now
from app.db.repositories.sync_health import sync_health
from app.metrics import INTEGRATIONS, SYNC_OLDEST_SUCCESS_AGE
from app.runtime import Runtime

logger = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])


class RateLimiterWaits(Collector):
    """Pacing waits of the Classy rate limiters (kept by `app.classy`, which knows no Prometheus)."""

    def collect(self) -> Iterator[Metric]:
        stats = wait_stats()
        waits = CounterMetricFamily(
            "classy_sync_classy_ratelimit_waits", "Classy requests that waited for the rate limiter"
        )
        waits.add_metric([], stats.waits)
        yield waits
        seconds = CounterMetricFamily(
            "classy_sync_classy_ratelimit_wait_seconds", "Seconds Classy requests waited for the rate limiter"
        )
        seconds.add_metric([], stats.seconds)
        yield seconds


REGISTRY.register(RateLimiterWaits())


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Database unreachable or scheduler stopped"}},
)
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """The database answers and the scheduler loop is alive."""
    try:
        async with asyncio.timeout(5):
            async with runtime.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        database = "ok"
    except Exception:
        database = "unreachable"
    scheduler = "ok" if runtime.scheduler.alive else "stopped"
    ready = database == "ok" and scheduler == "ok"
    body: dict[str, str] = {
        "status": "ok" if ready else "unavailable",
        "database": database,
        "scheduler": scheduler,
    }
    if not ready:
        body["detail"] = "The service is not ready: " + (
            "the database is unreachable." if database != "ok" else "the scheduler is not running."
        )
        body["code"] = "not_ready"
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response)
async def metrics(runtime: RuntimeDep) -> Response:
    """Prometheus text exposition, with the sync freshness of all integrations read now."""
    await _refresh_sync_health(runtime)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def _refresh_sync_health(runtime: Runtime) -> None:
    """Set the freshness gauges; on a database problem they keep their last values (readyz says why)."""
    try:
        async with asyncio.timeout(5), runtime.sessionmaker() as session:
            health = await sync_health(session, now=utc_now())
    except Exception:
        logger.warning("could not read sync health for /metrics", exc_info=True)
        return
    INTEGRATIONS.clear()
    for status, count in health.by_status.items():
        INTEGRATIONS.labels(status).set(count)
    SYNC_OLDEST_SUCCESS_AGE.set(health.oldest_success_age_seconds)
