"""A counter of sync commits per integration (to notice commits a database lost); an index of running runs

Every sync transaction (page, merge, window end) increments it with the lease renewal; the worker keeps
the highest value it was told committed. A database that comes back from a crash or a failover without
some acknowledged commits shows a lower value, and the worker stops instead of writing a checkpoint past
rows that are not there (see app/sync/durability.py). The partial index serves the sweep that marks
orphaned `running` runs failed (app/sync/sweeper.py).

Revision ID: e853b5c2669c
Revises: 15c48c6b5127
Create Date: 2026-11-29 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e853b5c2669c"
down_revision: str | None = "15c48c6b5127"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "integration",
        sa.Column("sync_commits", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.create_index(
        "ix_sync_run_running",
        "sync_run",
        ["integration_id"],
        unique=False,
        postgresql_where=sa.text("status = 'running'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_sync_run_running", table_name="sync_run", postgresql_where=sa.text("status = 'running'")
    )
    op.drop_column("integration", "sync_commits")
