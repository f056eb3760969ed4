"""Sync progress: a cursor per (integration, organization, stream) and a record of every run."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, Integer, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.models._types import CreatedAt, OptionalClassyId, OptionalText, OptionalTimestamp, UpdatedAt


class SyncCursor(Base):
    """Where a stream's read of one organization stands: committed with the rows it covers."""

    __tablename__ = "sync_cursor"

    integration_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("integration.id", ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    stream: Mapped[str] = mapped_column(Text, primary_key=True)
    # Lower bound of the next run's window (the previous completed window's end).
    completed_through: Mapped[OptionalTimestamp]
    # Position inside the run in progress: the last committed (updated_at, id) key.
    window_start: Mapped[OptionalTimestamp]
    window_end: Mapped[OptionalTimestamp]
    position_ts: Mapped[OptionalTimestamp]
    position_id: Mapped[OptionalClassyId]
    # Walking a block of records that share one updated_at second, by page number.
    block_page: Mapped[int | None] = mapped_column(Integer)
    # Records whose updated_at is null are read by id in their own pass.
    null_pass_after_id: Mapped[OptionalClassyId]
    state: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    updated_at: Mapped[UpdatedAt]


class SyncRun(Base):
    """One sync run of an integration, with live per-stream counts."""

    __tablename__ = "sync_run"
    # The orphan sweep looks for runs still `running`: a handful among all the runs ever made.
    __table_args__ = (
        Index("ix_sync_run_running", "integration_id", postgresql_where=text("status = 'running'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    integration_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("integration.id", ondelete="CASCADE"), nullable=False, index=True
    )
    organization_id: Mapped[OptionalClassyId]
    trigger: Mapped[str] = mapped_column(Text, nullable=False)
    # incremental, reconcile (also marks what Classy no longer has) or full (the whole history again).
    mode: Mapped[str] = mapped_column(
        Text, nullable=False, default="incremental", server_default=text("'incremental'")
    )
    status: Mapped[str] = mapped_column(Text, nullable=False, default="running")
    started_at: Mapped[CreatedAt]
    finished_at: Mapped[OptionalTimestamp]
    streams: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    error: Mapped[OptionalText]
    worker: Mapped[OptionalText]
