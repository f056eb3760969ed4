"""Records a sync cannot identify or place are set aside, never allowed to stall the read.

A record needs an integer `id` (our key, and the reader's tie-breaker) and, where present, an
`updated_at` that is a time (the reader's order). Anything else of a record may be odd: a value
Postgres cannot store becomes NULL in its column or loses its NUL characters (`repositories.nul`).

Screening happens on each fetched page, before the window reader sees it, so the reader only ever
re-anchors on good keys. What is set aside is written at once (its own small transaction, before the
page's checkpoint can pass it), counted per stream, and listed on the run (API.md section 4).

Retry (at the end of every later run): a record whose id we know is read again by id
(`GET /{resource}/{id}`): stored if Classy has fixed it, set aside again (listed on this run) if not,
closed if Classy no longer has it. A record without a usable id cannot be asked for; it is re-checked
from its stored payload (stored if the rules now accept it) and otherwise stays open. Either way, a
record Classy fixes also comes back by itself: fixing it moves its `updated_at` into the next window.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import orjson

from app.classy import (
    ClassyBadRequestError,
    ClassyClient,
    ClassyNotFoundError,
    ClassyOrganizationAccessError,
    Page,
)
from app.classy.timestamps import parse_timestamp
from app.db.repositories import rejected as repo
from app.db.repositories.nul import without_nul
from app.db.repositories.rejected import Rejected
from app.sync.context import SyncContext
from app.sync.streams import STREAMS, Stream

logger = logging.getLogger(__name__)

MAX_ID = 2**63 - 1
# Open rejects retried per run: each may cost one request, within the app's rate limit.
RETRY_PER_RUN = 100

NO_ID = "Classy sent this record without an id, so it cannot be stored or matched to a later change."
BAD_ID = "Classy sent this record with an id that is not an integer, so it cannot be stored."
BAD_UPDATED_AT = (
    "Classy sent this record with an updated_at that is not a time, so the sync cannot place it "
    "among the changes."
)
NO_UPDATED_AT = "Classy sent this record without an updated_at, which this list always has."


def classy_id(record: dict[str, Any]) -> int | None:
    """The record's id as an integer, or None if it has none we can use as a key."""
    value = record.get("id")
    if type(value) is int:
        return value if 0 < value <= MAX_ID else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and 0 < int(value) <= MAX_ID:
        return int(value)
    return None


def problem(record: dict[str, Any], *, updated_at_required: bool) -> str | None:
    """Why the record must be set aside, or None when it can be stored."""
    if classy_id(record) is None:
        return NO_ID if record.get("id") is None else BAD_ID
    value = record.get("updated_at")
    if value is None:
        return NO_UPDATED_AT if updated_at_required else None
    if not isinstance(value, str):
        return BAD_UPDATED_AT
    try:
        parse_timestamp(value)
    except ValueError:
        return BAD_UPDATED_AT
    return None


def set_aside(stream: str, record: dict[str, Any], reason: str) -> Rejected:
    clean = without_nul(record)
    rid = classy_id(clean)
    if rid is not None:
        key = str(rid)
    else:
        key = "sha256:" + hashlib.sha256(orjson.dumps(clean, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
    return Rejected(stream, rid, key, reason, clean)


def split(stream: Stream, records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Rejected]]:
    """(records to store, records set aside)."""
    required = not stream.nullable_updated_at
    good: list[dict[str, Any]] = []
    bad: list[Rejected] = []
    for record in records:
        reason = problem(record, updated_at_required=required)
        if reason is None:
            good.append(record)
        else:
            bad.append(set_aside(stream.name, record, reason))
    return good, bad


Count = Callable[[Stream, int], None]


class Rejects:
    """Screens a run's pages and writes what it sets aside; one per run."""

    def __init__(self, ctx: SyncContext, *, integration_id: int, run_id: int, count: Count) -> None:
        self.ctx = ctx
        self.integration_id = integration_id
        self.run_id = run_id
        self._count = count

    async def save(self, stream: Stream, rejects: list[Rejected]) -> None:
        if not rejects:
            return
        async with self.ctx.sessionmaker() as session, session.begin():
            new = await repo.record(
                session, integration_id=self.integration_id, run_id=self.run_id, rejects=rejects
            )
        if new.get(stream.name):
            logger.warning("set aside %d %s record(s) Classy sent malformed", new[stream.name], stream.name)
            self._count(stream, new[stream.name])

    async def screen(self, stream: Stream, page: Page, fetch_page: Callable[[int], Awaitable[Page]]) -> Page:
        """The page without the records set aside.

        A page that held nothing else would look like the end of the list to the reader, so the next
        page is read in its place (the reader then reads that page again by number: harmless).
        """
        while True:
            good, bad = split(stream, page.data)
            await self.save(stream, bad)
            if not bad:
                return page
            if good or page.current_page >= page.last_page or page.next_page_url is None:
                return replace(page, data=good)
            page = await fetch_page(page.current_page + 1)

    async def retry(
        self,
        client: ClassyClient,
        commit: Callable[[Stream, list[dict[str, Any]]], Awaitable[None]],
    ) -> None:
        """Try again what earlier runs set aside (see the module docstring)."""
        async with self.ctx.sessionmaker() as session:
            rows = await repo.open_before(
                session, integration_id=self.integration_id, run_id=self.run_id, limit=RETRY_PER_RUN
            )
        by_name = {s.name: s for s in STREAMS}
        closed: list[int] = []
        for row in rows:
            stream = by_name.get(row.stream)
            if stream is None:
                continue
            record = row.raw
            if row.classy_id is not None:
                try:
                    record = await client.get_object(
                        f"/{stream.resource}/{row.classy_id}", with_=stream.with_
                    )
                except ClassyNotFoundError:
                    closed.append(row.id)  # Classy no longer has it
                    continue
                except (ClassyOrganizationAccessError, ClassyBadRequestError):
                    continue  # not readable by id: it stays open, and comes back if Classy fixes it
            good, bad = split(stream, [record])
            if good:
                await commit(stream, good)
                closed.append(row.id)
            elif row.classy_id is not None:
                await self.save(stream, bad)  # seen again: listed on this run, the old row closed
        async with self.ctx.sessionmaker() as session, session.begin():
            await repo.resolve(session, closed)
