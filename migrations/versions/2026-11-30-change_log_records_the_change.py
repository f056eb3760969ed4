"""The change log records what each change was: `upsert`, or `delete` (a deletion mark or a removal)

The feed used to derive `change` from the row as it is when read, so a deletion mark turned every
earlier entry of that row into a `delete`, and unmarking it turned the mark itself back into an
`upsert`. The trigger now stores the kind with each entry: `delete` when the row is marked deleted
after the change or removed, else `upsert`. Entries logged before this migration keep NULL (the feed
reads those as before).

Revision ID: 8c4d2e6f1a37
Revises: 3f1e9a7c2b10
Create Date: 2026-11-30 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8c4d2e6f1a37"
down_revision: str | None = "3f1e9a7c2b10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Migration 3f1e9a7c2b10's body, with the kind: the UPDATE branch already builds its statement from the
# catalog, so whether the table has `deleted_at` is read there (campaigns and plans have none).
_BODY = """
CREATE OR REPLACE FUNCTION change_log_record() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    current_xid bigint;
    changed text;
    markable boolean;
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF NOT EXISTS (SELECT 1 FROM old_rows) THEN
            RETURN NULL;
        END IF;
    ELSIF NOT EXISTS (SELECT 1 FROM new_rows) THEN
        RETURN NULL;
    END IF;
    current_xid := pg_current_xact_id()::text::bigint;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO change_log (xid, account, type, row_id, change)
        SELECT current_xid, n.account, TG_TABLE_NAME, n.id, 'upsert' FROM new_rows n ORDER BY n.id;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT string_agg(
                   format(CASE WHEN atttypid = 'json'::regtype  -- json has no equality: compare its text
                          THEN 'n.%1$I::text IS DISTINCT FROM o.%1$I::text'
                          ELSE 'n.%1$I IS DISTINCT FROM o.%1$I' END, attname),
                   ' OR ' ORDER BY atttypid IN ('jsonb'::regtype, 'json'::regtype), attnum),
               bool_or(attname = 'deleted_at')
        INTO changed, markable
        FROM pg_attribute
        WHERE attrelid = TG_RELID AND attnum > 0 AND NOT attisdropped AND attname <> 'synced_at';
        EXECUTE format(
            'INSERT INTO change_log (xid, account, type, row_id, change) '
            'SELECT $1, n.account, $2, n.id, %s FROM new_rows n JOIN old_rows o ON o.id = n.id '
            'WHERE %s ORDER BY n.id',
            CASE WHEN markable THEN 'CASE WHEN n.deleted_at IS NULL THEN ''upsert'' ELSE ''delete'' END'
                 ELSE '''upsert''' END,
            changed
        ) USING current_xid, TG_TABLE_NAME;
    ELSE
        INSERT INTO change_log (xid, account, type, row_id, change)
        SELECT current_xid, o.account, TG_TABLE_NAME, o.id, 'delete' FROM old_rows o ORDER BY o.id;
    END IF;
    RETURN NULL;
END
$$
"""

_PREVIOUS = """
CREATE OR REPLACE FUNCTION change_log_record() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    current_xid bigint;
    changed text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF NOT EXISTS (SELECT 1 FROM old_rows) THEN
            RETURN NULL;
        END IF;
    ELSIF NOT EXISTS (SELECT 1 FROM new_rows) THEN
        RETURN NULL;
    END IF;
    current_xid := pg_current_xact_id()::text::bigint;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO change_log (xid, account, type, row_id)
        SELECT current_xid, n.account, TG_TABLE_NAME, n.id FROM new_rows n ORDER BY n.id;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT string_agg(
                   format(CASE WHEN atttypid = 'json'::regtype  -- json has no equality: compare its text
                          THEN 'n.%1$I::text IS DISTINCT FROM o.%1$I::text'
                          ELSE 'n.%1$I IS DISTINCT FROM o.%1$I' END, attname),
                   ' OR ' ORDER BY atttypid IN ('jsonb'::regtype, 'json'::regtype), attnum)
        INTO changed
        FROM pg_attribute
        WHERE attrelid = TG_RELID AND attnum > 0 AND NOT attisdropped AND attname <> 'synced_at';
        EXECUTE format(
            'INSERT INTO change_log (xid, account, type, row_id) '
            'SELECT $1, n.account, $2, n.id FROM new_rows n JOIN old_rows o ON o.id = n.id '
            'WHERE %s ORDER BY n.id', changed
        ) USING current_xid, TG_TABLE_NAME;
    ELSE
        INSERT INTO change_log (xid, account, type, row_id)
        SELECT current_xid, o.account, TG_TABLE_NAME, o.id FROM old_rows o ORDER BY o.id;
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.add_column("change_log", sa.Column("change", sa.Text(), nullable=True))
    op.execute(_BODY)


def downgrade() -> None:
    op.execute(_PREVIOUS)
    op.drop_column("change_log", "change")
