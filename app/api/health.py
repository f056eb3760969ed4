"""Operations endpoints: liveness, readiness (really asks the database) and Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from app.api.deps import RuntimeDep
from app.api.schemas import Readiness

router = APIRouter(tags=["operations"])


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
async def metrics() -> Response:
    """Prometheus text exposition."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
