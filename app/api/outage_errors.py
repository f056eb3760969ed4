"""A database outage seen by an API request: a fast JSON 503, not a hang or a 500 with a traceback.

While the database is down, restarting or failing over, connecting fails at once (or within
`API_STATEMENT_TIMEOUT_SECONDS`) and the request gets `{"detail", "code": "database_unavailable"}` with
`Retry-After`; a statement cancelled by the API's statement timeout gets `database_timeout`. Pooled
connections broken by the outage are replaced as soon as it is back (pre-ping), so the first request
after it succeeds. Other database errors remain bugs: 500, logged.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.db.outage import DATABASE_SLOW, DATABASE_UNAVAILABLE, OUTAGE_EXCEPTION_TYPES, outage_kind

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "5"


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    kind = outage_kind(exc)
    if kind is None:
        logger.exception("unhandled error", exc_info=exc)
        return JSONResponse(
            {"detail": "An unexpected error occurred; it has been logged.", "code": "internal_error"}, 500
        )
    logger.warning("database unavailable during a request", extra={"path": request.url.path, "kind": kind})
    body = (
        {"detail": DATABASE_SLOW, "code": "database_timeout"}
        if kind == "slow"
        else {"detail": DATABASE_UNAVAILABLE, "code": "database_unavailable"}
    )
    return JSONResponse(body, status_code=503, headers={"Retry-After": RETRY_AFTER_SECONDS})


def install_outage_handlers(app: FastAPI) -> None:
    """Handlers for the exceptions a missing or slow database raises through SQLAlchemy and asyncpg."""
    for exc_class in OUTAGE_EXCEPTION_TYPES:
        app.add_exception_handler(exc_class, _database_error)
