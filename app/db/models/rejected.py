"""Classy records a sync set aside because it could not identify or place them (API.md section 4)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.models._types import CreatedAt, OptionalClassyId, OptionalTimestamp


class RejectedRecord(Base):
    """One record one run set aside: why, and Classy's payload (NUL characters removed) to retry it from.

    A run lists what it saw itself; an older row of the same record is resolved when a later run sees the
    record again (set aside again, or stored), so the open rows are what is still waiting for a retry.
    """

    __tablename__ = "rejected_record"
    __table_args__ = (
        UniqueConstraint("run_id", "stream", "record_key", name="uq_rejected_record_run_stream_key"),
        Index(
            "ix_rejected_record_open",
            "integration_id",
            "stream",
            "record_key",
            postgresql_where=text("resolved_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    integration_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("integration.id", ondelete="CASCADE"), nullable=False
    )
    run_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("sync_run.id", ondelete="CASCADE"), nullable=False, index=True
    )
    stream: Mapped[str] = mapped_column(Text, nullable=False)
    classy_id: Mapped[OptionalClassyId]
    # The Classy id as text, or a digest of the payload when it has no usable id: one row per record per run.
    record_key: Mapped[str] = mapped_column(Text, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[CreatedAt]
    resolved_at: Mapped[OptionalTimestamp]
