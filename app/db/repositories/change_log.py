"""Reading the change feed: the account's logged changes, in (transaction id, sequence) order.

Sequence numbers are taken before commit, so transactions commit out of order: a reader that handed
out everything committed could give a cursor past a change still in flight, which would then land
behind it and never be seen. Only changes of transactions older than the oldest one still running
(`pg_snapshot_xmin` of the statement's snapshot) are handed out, and every transaction that commits
later has an id at least that large: it sorts after the cursor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Campaign, Contact, Donation, RecurringPlan, Registration, Supporter


@dataclass(frozen=True)
class Position:
    """A place in the feed: after the change (xid, seq); (0, 0) is the beginning."""

    xid: int = 0
    seq: int = 0


@dataclass(frozen=True)
class LoggedChange:
    seq: int
    xid: int
    type: str
    row_id: int

    @property
    def position(self) -> Position:
        return Position(self.xid, self.seq)


_READ = text(
    """
SELECT seq, xid, type, row_id FROM change_log
WHERE account = :account AND (xid, seq) > (:xid, :seq)
  AND xid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
ORDER BY xid, seq
LIMIT :limit
"""
)


async def read_after(
    session: AsyncSession, *, account: str, after: Position, limit: int
) -> list[LoggedChange]:
    """Up to `limit` changes of the account after `after`, none of a transaction still in flight."""
    rows = await session.execute(
        _READ, {"account": account, "xid": after.xid, "seq": after.seq, "limit": limit}
    )
    return [LoggedChange(row.seq, row.xid, row.type, row.row_id) for row in rows]


@dataclass(frozen=True)
class CurrentRow:
    """A changed row as it is now, with what its API representation adds from other tables."""

    row: Any
    campaign_name: str | None = None
    contact_id: int | None = None


FEED_MODELS: dict[str, type[Any]] = {
    "contact": Contact,
    "donation": Donation,
    "campaign": Campaign,
    "recurring_plan": RecurringPlan,
    "registration": Registration,
}


async def _pairs(session: AsyncSession, statement: Select[Any, Any]) -> dict[Any, Any]:
    return {row[0]: row[1] for row in await session.execute(statement)}


async def current_rows(
    session: AsyncSession, *, account: str, type_: str, ids: list[int]
) -> dict[int, CurrentRow]:
    """The account's rows of one type by id, as they are now (a row deleted since is absent)."""
    model = FEED_MODELS[type_]
    rows = (await session.execute(select(model).where(model.account == account, model.id.in_(ids)))).scalars()
    found = {row.id: CurrentRow(row) for row in rows}
    if not found:
        return found
    if type_ in ("donation", "registration"):
        column = "classy_campaign_id" if type_ == "donation" else "campaign_id"
        campaign_ids = {getattr(r.row, column) for r in found.values()} - {None}
        names = await _pairs(
            session,
            select(Campaign.classy_id, Campaign.name).where(
                Campaign.account == account, Campaign.classy_id.in_(campaign_ids)
            ),
        )
        found = {i: CurrentRow(r.row, names.get(getattr(r.row, column))) for i, r in found.items()}
    if type_ == "registration":
        emails = {r.row.email_lower for r in found.values()} - {None}
        contacts = await _pairs(
            session,
            select(Contact.email_lower, Contact.id).where(
                Contact.account == account, Contact.email_lower.in_(emails)
            ),
        )
        found = {
            i: CurrentRow(r.row, r.campaign_name, contacts.get(r.row.email_lower)) for i, r in found.items()
        }
    if type_ == "recurring_plan":
        supporters = {r.row.classy_supporter_id for r in found.values()} - {None}
        same_person = (Contact.email_lower == Supporter.email_lower) | (
            Contact.email_lower.is_(None) & (Contact.classy_supporter_id == Supporter.classy_id)
        )
        by_supporter = await _pairs(
            session,
            select(Supporter.classy_id, Contact.id)
            .join(Contact, (Contact.account == Supporter.account) & same_person)
            .where(Supporter.account == account, Supporter.classy_id.in_(supporters)),
        )
        found = {
            i: CurrentRow(r.row, contact_id=by_supporter.get(r.row.classy_supporter_id))
            for i, r in found.items()
        }
    return found
