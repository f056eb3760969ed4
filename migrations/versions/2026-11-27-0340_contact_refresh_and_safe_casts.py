"""Contact refresh queue, and exception-safe casts for values Classy should never send

Revision ID: 5b1c2d3e4f60
Revises: 9dc576fcb8a2
Create Date: 2026-11-27 03:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b1c2d3e4f60"
down_revision: str | None = "9dc576fcb8a2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Used only when a page's fast, regex-guarded casts fail (see app/db/repositories/classy_columns.py).
SAFE_CASTS = {
    "classy_try_timestamptz": (
        "timestamptz",
        "BEGIN RETURN value::timestamptz; EXCEPTION WHEN others THEN RETURN NULL; END",
    ),
    "classy_try_money": (
        "numeric",
        "DECLARE amount numeric; BEGIN amount := round(value::numeric, 2); "
        "IF abs(amount) >= 1e16 THEN RETURN NULL; END IF; RETURN amount; "
        "EXCEPTION WHEN others THEN RETURN NULL; END",
    ),
    "classy_try_bigint": (
        "bigint",
        "BEGIN RETURN value::bigint; EXCEPTION WHEN others THEN RETURN NULL; END",
    ),
}


def upgrade() -> None:
    op.create_table(
        "contact_refresh",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_refresh")),
    )
    op.create_index(op.f("ix_contact_refresh_account"), "contact_refresh", ["account"])
    for name, (returns, body) in SAFE_CASTS.items():
        op.execute(
            f"CREATE OR REPLACE FUNCTION {name}(value text) RETURNS {returns} "
            f"LANGUAGE plpgsql STABLE AS $$ {body} $$"
        )


def downgrade() -> None:
    for name in SAFE_CASTS:
        op.execute(f"DROP FUNCTION IF EXISTS {name}(text)")
    op.drop_index(op.f("ix_contact_refresh_account"), table_name="contact_refresh")
    op.drop_table("contact_refresh")
