"""Deletions and run modes: `deleted_at` on synced rows, a run's `mode`, when an integration was reconciled

Rows are never removed: a reconcile marks what Classy no longer returns (API.md section 5). A manual
sync may ask for a mode (`reconcile`, `full`), kept on the integration until the run takes it.

Revision ID: c68847a99bbb
Revises: e853b5c2669c
Create Date: 2026-11-29 16:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c68847a99bbb"
down_revision: str | None = "e853b5c2669c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MARKED_TABLES = ("supporter", "registration", "donation", "campaign", "recurring_plan", "contact")


def upgrade() -> None:
    for table in MARKED_TABLES:
        op.add_column(table, sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "sync_run", sa.Column("mode", sa.Text(), nullable=False, server_default=sa.text("'incremental'"))
    )
    op.add_column("integration", sa.Column("sync_requested_mode", sa.Text(), nullable=True))
    op.add_column("integration", sa.Column("last_reconciled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("integration", "last_reconciled_at")
    op.drop_column("integration", "sync_requested_mode")
    op.drop_column("sync_run", "mode")
    for table in reversed(MARKED_TABLES):
        op.drop_column(table, "deleted_at")
