"""Reading the change feed: the account's logged changes, in (transaction id, sequence) order.

Sequence numbers are taken before commit, so transactions commit out of order: a reader that handed
out everything committed could give a cursor past a change still in flight, which would then land
behind it and never be seen. Only changes of transactions older than the oldest one still running
(`pg_snapshot_xmin` of the statement's snapshot) are handed out, and every transaction that commits
later has an id at least that large: it sorts after the cursor.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


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
    change: str | None  # `upsert` or `delete`, as the trigger logged it (None: logged before it did)

    @property
    def position(self) -> Position:
        return Position(self.xid, self.seq)


_READ = text(
    """
SELECT seq, xid, type, row_id, change FROM change_log
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
    return [LoggedChange(row.seq, row.xid, row.type, row.row_id, row.change) for row in rows]
