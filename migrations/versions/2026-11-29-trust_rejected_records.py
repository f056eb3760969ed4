"""Records set aside by a sync (rejected_record) and supporters Classy does not have (missing_supporter)

Revision ID: 15c48c6b5127
Revises: 6c2d3e4f5a71
Create Date: 2026-11-29 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "15c48c6b5127"
down_revision: str | None = "6c2d3e4f5a71"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rejected_record",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("integration_id", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("stream", sa.Text(), nullable=False),
        sa.Column("classy_id", sa.BigInteger(), nullable=True),
        sa.Column("record_key", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["integration_id"], ["integration.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["sync_run.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "stream", "record_key", name="uq_rejected_record_run_stream_key"),
    )
    op.create_index("ix_rejected_record_run_id", "rejected_record", ["run_id"])
    op.create_index(
        "ix_rejected_record_open",
        "rejected_record",
        ["integration_id", "stream", "record_key"],
        postgresql_where=sa.text("resolved_at IS NULL"),
    )
    op.create_table(
        "missing_supporter",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("classy_id", sa.BigInteger(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account", "classy_id"),
    )


def downgrade() -> None:
    op.drop_table("missing_supporter")
    op.drop_index("ix_rejected_record_open", table_name="rejected_record")
    op.drop_index("ix_rejected_record_run_id", table_name="rejected_record")
    op.drop_table("rejected_record")
