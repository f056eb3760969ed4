"""Rows of `rejected_record`: records a run set aside, what is still open, and each run's list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.repositories.nul import encode_json

# A run's list in the API holds at most this many records (its count in `streams` holds them all).
LISTED_PER_RUN = 100


@dataclass(frozen=True)
class Rejected:
    """A record set aside: where from, which (if it can be told), why, and its payload without NULs."""

    stream: str
    classy_id: int | None
    record_key: str
    reason: str
    raw: dict[str, Any]


_INSERT = text("""
WITH new AS (
    SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb))
        AS x(stream text, classy_id bigint, record_key text, reason text, raw jsonb)
),
inserted AS (
    INSERT INTO rejected_record
        (integration_id, run_id, stream, classy_id, record_key, reason, raw, created_at)
    SELECT :integration_id, :run_id, stream, classy_id, record_key, reason, raw, now() FROM new
    ON CONFLICT (run_id, stream, record_key) DO NOTHING
    RETURNING stream, record_key
),
superseded AS (
    UPDATE rejected_record r SET resolved_at = now()
    FROM inserted i
    WHERE r.integration_id = :integration_id AND r.resolved_at IS NULL AND r.run_id <> :run_id
      AND r.stream = i.stream AND r.record_key = i.record_key
)
SELECT stream, count(*) AS n FROM inserted GROUP BY stream
""")


async def record(
    session: AsyncSession, *, integration_id: int, run_id: int, rejects: Sequence[Rejected]
) -> dict[str, int]:
    """Store this run's rejects (a record seen twice in one run is one row); per stream, how many were new.

    An open row of an earlier run for the same record is resolved: this run's row replaces it.
    """
    if not rejects:
        return {}
    rows = [
        {
            "stream": r.stream,
            "classy_id": r.classy_id,
            "record_key": r.record_key,
            "reason": r.reason,
            "raw": r.raw,
        }
        for r in rejects
    ]
    params = {"rows": encode_json(rows), "integration_id": integration_id, "run_id": run_id}
    result = await session.execute(_INSERT, params)
    return {row.stream: int(row.n) for row in result}


@dataclass(frozen=True)
class OpenReject:
    id: int
    stream: str
    classy_id: int | None
    record_key: str
    raw: dict[str, Any]


async def open_before(
    session: AsyncSession, *, integration_id: int, run_id: int, limit: int
) -> list[OpenReject]:
    """Records earlier runs set aside that no run has seen since (with an id first, then oldest first)."""
    result = await session.execute(
        text(
            "SELECT id, stream, classy_id, record_key, raw FROM rejected_record "
            "WHERE integration_id = :integration_id AND resolved_at IS NULL AND run_id <> :run_id "
            # Those Classy can be asked about first: re-checking a payload costs no request.
            "ORDER BY classy_id IS NULL, id LIMIT :limit"
        ),
        {"integration_id": integration_id, "run_id": run_id, "limit": limit},
    )
    return [OpenReject(r.id, r.stream, r.classy_id, r.record_key, r.raw) for r in result]


async def resolve(session: AsyncSession, ids: Sequence[int]) -> None:
    """Close rows whose record has since been stored, or that Classy no longer has."""
    if ids:
        await session.execute(
            text(
                "UPDATE rejected_record SET resolved_at = now() WHERE id = ANY(:ids) AND resolved_at IS NULL"
            ),
            {"ids": list(ids)},
        )


async def listed_for_runs(session: AsyncSession, run_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Each run's records set aside, `{"stream", "classy_id", "reason"}`, the first `LISTED_PER_RUN`."""
    if not run_ids:
        return {}
    result = await session.execute(
        text(
            "SELECT run_id, stream, classy_id, reason FROM ("
            "  SELECT run_id, stream, classy_id, reason, id,"
            "         row_number() OVER (PARTITION BY run_id ORDER BY id) AS n"
            "  FROM rejected_record WHERE run_id = ANY(:run_ids)"
            ") x WHERE n <= :per_run ORDER BY run_id, id"
        ),
        {"run_ids": list(run_ids), "per_run": LISTED_PER_RUN},
    )
    listed: dict[int, list[dict[str, Any]]] = {}
    for row in result:
        listed.setdefault(row.run_id, []).append(
            {"stream": row.stream, "classy_id": row.classy_id, "reason": row.reason}
        )
    return listed
