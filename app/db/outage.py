"""Telling a database outage (down, restarting, failed over, overloaded) from a bug.

An outage is not the request's or the sync's fault and passes by itself: the API answers 503, a sync
run is recorded failed with a sentence and resumes from its checkpoint, the scheduler keeps ticking.
Anything else stays an unexpected error with its traceback.
"""

from __future__ import annotations

import asyncio

import asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

# SQLSTATEs of a server that is going away, starting up, read-only after a failover or full.
_OUTAGE_STATES = {"57P01", "57P02", "57P03", "25006", "53300"}
# Canceled by `statement_timeout`: the database is too slow right now, also not the caller's fault.
STATEMENT_TIMEOUT = "57014"

DATABASE_UNAVAILABLE = "The database is unavailable right now; try again in a few seconds."
DATABASE_SLOW = "The database did not answer in time; try again in a few seconds."


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, what SQLAlchemy wrapped and what each was raised from (driver errors are nested)."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or any(current is s for s in seen) or len(seen) > 20:
            continue
        seen.append(current)
        todo.extend([current.__cause__, current.__context__, getattr(current, "orig", None)])
    return seen


# What an outage can surface as, wrapped or not: handlers register for these and ask `outage_kind`.
OUTAGE_EXCEPTION_TYPES: tuple[type[Exception], ...] = (
    DBAPIError,
    PoolTimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
    asyncio.TimeoutError,
)


def outage_kind(exc: BaseException) -> str | None:
    """ "unavailable", "slow" or None (not an outage: a bug, bad data, a constraint)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return "unavailable"
    for error in _chain(exc):
        state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(state, str):
            if state.startswith("08") or state in _OUTAGE_STATES:
                return "unavailable"
            if state == STATEMENT_TIMEOUT:
                return "slow"
        if isinstance(error, asyncpg.InterfaceError) and "connection" in str(error).lower():
            return "unavailable"  # "connection is closed", "cannot perform operation: another operation..."
        if isinstance(error, (ConnectionError, asyncio.TimeoutError, TimeoutError, PoolTimeoutError)):
            return "unavailable"
        if isinstance(error, OSError) and not isinstance(error, FileExistsError):
            return "unavailable"  # refused, unreachable, or the Unix socket is gone (server stopped)
    return None


def is_database_outage(exc: BaseException) -> bool:
    return outage_kind(exc) is not None
