"""Sync runs and audit events of an account's integration, newest first, keyset-paginated."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import AuditEvent, SyncRun
from app.db.repositories import integrations as repo
from app.db.repositories import rejected as rejected_repo
from app.errors import UnprocessableError
from app.services.transitions import APP_SLUG

T = TypeVar("T", SyncRun, AuditEvent)
_PREFIX = "id:"


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_cursor: str | None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The id the next page starts below; 422 for a cursor we did not hand out."""
    if cursor is None or cursor == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        digits = raw[len(_PREFIX) :]
        if raw.startswith(_PREFIX) and digits.isdigit() and len(digits) <= 18:
            return int(digits)
    except (binascii.Error, ValueError):
        pass
    raise UnprocessableError(
        "The cursor is not valid; pass the next_cursor of a previous page.", code="invalid_cursor"
    )


def _page(rows: Sequence[T], limit: int) -> Page[T]:
    items = rows[:limit]
    next_cursor = encode_cursor(items[-1].id) if len(rows) > limit and items else None
    return Page(items=items, next_cursor=next_cursor)


async def sync_runs(session: AsyncSession, *, account: str, cursor: str | None, limit: int) -> Page[SyncRun]:
    """The integration's sync runs; empty before the first Connect."""
    before = decode_cursor(cursor)
    integration = await repo.get_integration(session, account=account, app_slug=APP_SLUG)
    if integration is None:
        return Page(items=[], next_cursor=None)
    rows = await repo.list_sync_runs(
        session, integration_id=integration.id, before_id=before, limit=limit + 1
    )
    return _page(rows, limit)


async def rejected_for(session: AsyncSession, runs: Sequence[SyncRun]) -> dict[int, list[dict[str, Any]]]:
    """The records each of these runs set aside (the first 100 of each)."""
    return await rejected_repo.listed_for_runs(session, [run.id for run in runs])


async def events(session: AsyncSession, *, account: str, cursor: str | None, limit: int) -> Page[AuditEvent]:
    """The integration's audit events; empty before the first Connect."""
    before = decode_cursor(cursor)
    integration = await repo.get_integration(session, account=account, app_slug=APP_SLUG)
    if integration is None:
        return Page(items=[], next_cursor=None)
    rows = await repo.list_audit_events(
        session, integration_id=integration.id, before_id=before, limit=limit + 1
    )
    return _page(rows, limit)
