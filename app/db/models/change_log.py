"""The change feed's log: one row per inserted, changed or deleted synced row, written by triggers."""

from __future__ import annotations

from sqlalchemy import BigInteger, Identity, Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class ChangeLog(Base):
    """A change of a contact, donation, campaign, recurring plan or registration.

    Written by statement-level triggers (migration `d00a77504f78`), never by the application. `xid` is
    the writing transaction's id (`pg_current_xact_id()`): the reader hands out only rows of
    transactions older than every transaction still in flight, ordered by (xid, seq).
    """

    __tablename__ = "change_log"
    __table_args__ = (Index("ix_change_log_account_xid_seq", "account", "xid", "seq"),)

    seq: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    xid: Mapped[int] = mapped_column(BigInteger, nullable=False)
    account: Mapped[str] = mapped_column(Text, nullable=False)
    # The table of the row: contact, donation, campaign, recurring_plan or registration.
    type: Mapped[str] = mapped_column(Text, nullable=False)
    row_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # What the change was: `upsert`, or `delete` (marked deleted by it, or removed). NULL on entries
    # logged before migration 8c4d2e6f1a37 (the feed then reads the row's current state).
    change: Mapped[str | None] = mapped_column(Text)
