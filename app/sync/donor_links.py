"""Every donor linked: read by id the supporters our gifts name but no window brought.

Runs once per run, after every stream (and a contact merge), so only supporters that are truly unseen
remain: during an import most supporters a transaction names arrive through the supporters list, and
asking for each of those by id would cost a request per gift. The ids are read in chunks, each chunk
concurrently (the app's rate limiter paces them like any other request) and stored like a page of the
supporters list; Classy's 404s are remembered and their gifts linked by the purchaser instead
(`repositories.donor_links`). Registrations naming an unseen supporter are covered the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from app.classy import ClassyBadRequestError, ClassyClient, ClassyNotFoundError, ClassyOrganizationAccessError
from app.db.repositories import donor_links as repo
from app.sync.context import SyncContext
from app.sync.rejects import Rejects, split
from app.sync.streams import STREAMS, Stream

logger = logging.getLogger(__name__)

# Supporters read by id per run (at 1,800 requests a minute, about half a minute); the rest next run.
MAX_PER_RUN = 1000
CHUNK = 100
CONCURRENCY = 8

SUPPORTERS = next(s for s in STREAMS if s.name == "supporters")
Commit = Callable[[Stream, list[dict[str, Any]]], Awaitable[None]]


async def link_donors(
    ctx: SyncContext,
    client: ClassyClient,
    *,
    account: str,
    organization_id: int,
    since: datetime,
    commit: Commit,
    rejects: Rejects,
) -> bool:
    """Read the unseen supporters, store them, link what Classy has not.

    Returns whether purchasers were linked (which may queue contacts for a merge). That step only
    concerns supporters Classy answered 404 for: an account without any (nearly all) skips its
    transaction of four statements, which was most of what a run that finds nothing spent here.
    """
    async with ctx.sessionmaker() as session:
        ids = await repo.unseen_supporters(
            session, account=account, organization_id=organization_id, since=since, limit=MAX_PER_RUN
        )
        any_missing = await repo.any_missing(session, account=account)
    not_in_classy = 0
    gate = asyncio.Semaphore(CONCURRENCY)
    refused: list[int] = []

    async def read(supporter_id: int) -> dict[str, Any] | None:
        async with gate:
            try:
                return await client.get_object(f"/supporters/{supporter_id}")
            except ClassyNotFoundError:
                return None
            except (ClassyOrganizationAccessError, ClassyBadRequestError):
                # Not this app's to read by id (or not readable that way): no reason to fail the
                # lists already synced, nor to call it missing. Tried again next run.
                refused.append(supporter_id)
                return {}

    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        records = await asyncio.gather(*(read(i) for i in chunk))
        present = [r for r in records if r]
        missing = [i for i, r in zip(chunk, records, strict=True) if r is None]
        good, bad = split(SUPPORTERS, present)
        await rejects.save(SUPPORTERS, bad)
        if good:
            await commit(SUPPORTERS, good)
        async with ctx.sessionmaker() as session, session.begin():
            await repo.mark_missing(session, account=account, ids=missing)
        not_in_classy += len(missing)
    linked = any_missing or not_in_classy > 0
    if linked:
        async with ctx.sessionmaker() as session, session.begin():
            await repo.link_by_purchaser(session, account=account)
    if refused:
        logger.warning(
            "Classy refused to show %d supporter(s) by id; their gifts stay unlinked", len(refused)
        )
    if ids:
        logger.info("asked Classy for %d supporter(s) named by gifts; %d not there", len(ids), not_in_classy)
    return linked
