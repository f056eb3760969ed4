"""What fundraisers work with (issue #11): gift details, designations, fundraising pages and teams

Donations gain their kind, fund, page/team, payment, fee and dedication columns; contacts gain company,
cell phone and SMS consent; supporters, registrations and plans gain the fields those come from. The new
columns of rows already synced are filled from their stored payloads here (no refetch), card expiry and
bank details are removed from stored payloads, and every transaction is read once more (dedications only
come with `with=dedication`, which earlier reads did not ask for): the transactions cursors restart from
their history floor. Every contact is queued for a merge so the new contact fields are filled.

Revision ID: 74a99db9b37b
Revises: d00a77504f78
Create Date: 2026-11-29 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "74a99db9b37b"
down_revision: str | None = "d00a77504f78"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DONATION_COLUMNS: list[tuple[str, sa.types.TypeEngine[object] | type]] = [
    ("cell_phone", sa.Text()),
    ("sms_opt_in", sa.Boolean()),
    ("kind", sa.Text()),
    ("designation_id", sa.BigInteger()),
    ("classy_fundraising_page_id", sa.BigInteger()),
    ("classy_fundraising_team_id", sa.BigInteger()),
    ("payment_type", sa.Text()),
    ("payment_method", sa.Text()),
    ("card_type", sa.Text()),
    ("card_last_four", sa.Text()),
    ("donor_covered_fees", sa.Boolean()),
    ("classy_fees_amount", sa.Numeric(precision=18, scale=2)),
    ("processor_fees_amount", sa.Numeric(precision=18, scale=2)),
    ("raw_currency", sa.Text()),
    ("raw_amount", sa.Numeric(precision=18, scale=2)),
    ("company_name", sa.Text()),
    ("hide_amount", sa.Boolean()),
    ("comment", sa.Text()),
    ("dedication", postgresql.JSONB(astext_type=sa.Text())),
]
OTHER_COLUMNS: list[tuple[str, str, sa.types.TypeEngine[object] | type]] = [
    ("contact", "company", sa.Text()),
    ("contact", "cell_phone", sa.Text()),
    ("contact", "sms_opt_in", sa.Boolean()),
    ("supporter", "cell_phone", sa.Text()),
    ("registration", "ticket_name", sa.Text()),
    ("registration", "company", sa.Text()),
    ("registration", "cell_phone", sa.Text()),
    ("recurring_plan", "next_charge_on", sa.Date()),
]
NEW_TABLES: dict[str, list[sa.Column[object]]] = {
    "designation": [sa.Column("name", sa.Text()), sa.Column("is_active", sa.Boolean())],
    "fundraising_page": [
        sa.Column("title", sa.Text()),
        sa.Column("status", sa.Text()),
        sa.Column("classy_campaign_id", sa.BigInteger()),
        sa.Column("classy_fundraising_team_id", sa.BigInteger()),
    ],
    "fundraising_team": [
        sa.Column("name", sa.Text()),
        sa.Column("status", sa.Text()),
        sa.Column("classy_campaign_id", sa.BigInteger()),
    ],
}
DROPPED_KEYS = "ARRAY['card_expiration', 'account_number', 'account_type', 'institution']"


def _text(field: str, source: str = "raw") -> str:
    return f"nullif(btrim({source}->>'{field}'), '')"


def _bool(path: str) -> str:
    value = f"lower({path})"
    return (
        f"(CASE WHEN {value} IN ('true','1','t') THEN true WHEN {value} IN ('false','0','f') THEN false END)"
    )


_KINDS = "coalesce(i->>'type', '')"
_TOTAL = "classy_try_money(raw->>'total_gross_amount')"
_BACKFILL_DONATIONS = f"""
UPDATE donation SET
    raw = raw - {DROPPED_KEYS},
    cell_phone = {_text("member_cell_phone")},
    sms_opt_in = {_bool("raw->'consent'->>'sms_opt_in'")},
    kind = (CASE WHEN jsonb_typeof(raw->'items') = 'array' AND jsonb_array_length(raw->'items') > 0 THEN (
        SELECT CASE WHEN bool_or({_KINDS} = 'registration') AND {_TOTAL} > 0 THEN 'ticket'
        WHEN bool_and({_KINDS} = 'registration') AND coalesce({_TOTAL}, 0) = 0 THEN 'registration'
        WHEN bool_and({_KINDS} = 'donation') THEN 'donation'
        WHEN bool_and({_KINDS} = 'offline_donation') THEN 'offline_donation'
        ELSE 'other' END FROM jsonb_array_elements(raw->'items') i) ELSE 'other' END),
    designation_id = classy_try_bigint(raw->>'designation_id'),
    classy_fundraising_page_id = classy_try_bigint(raw->>'fundraising_page_id'),
    classy_fundraising_team_id = classy_try_bigint(raw->>'fundraising_team_id'),
    payment_type = {_text("payment_type")},
    payment_method = {_text("payment_method")},
    card_type = {_text("card_type")},
    card_last_four = (CASE WHEN btrim(raw->>'card_last_four') ~ '^[0-9]{{1,4}}$'
                      THEN lpad(btrim(raw->>'card_last_four'), 4, '0') END),
    donor_covered_fees = {_bool("raw->>'is_donor_covered_fee'")},
    classy_fees_amount = classy_try_money(raw->>'classy_fees_amount'),
    processor_fees_amount = classy_try_money(raw->>'pp_fees_amount'),
    raw_currency = {_text("raw_currency_code")},
    raw_amount = classy_try_money(raw->>'raw_donation_gross_amount'),
    company_name = {_text("company_name")},
    hide_amount = {_bool("raw->>'hide_amount'")},
    comment = {_text("comment")}
"""
_BACKFILL_OTHERS = [
    f"UPDATE supporter SET cell_phone = {_text('cell_phone')}",
    f"UPDATE registration SET ticket_name = {_text('product_name')}, company = {_text('company')}, "
    f"cell_phone = {_text('cell')}",
    "UPDATE recurring_plan SET next_charge_on = classy_try_date(raw->>'next_processing_date')",
    # Re-read every transaction once (for its dedication), from each cursor's own history floor.
    "UPDATE sync_cursor SET completed_through = NULL, window_start = NULL, window_end = NULL, "
    "position_ts = NULL, position_id = NULL, block_page = NULL, null_pass_after_id = NULL "
    "WHERE stream = 'transactions'",
    "INSERT INTO contact_refresh (account, kind, key) "
    "SELECT account, 'email', email_lower FROM contact WHERE email_lower IS NOT NULL",
]


def upgrade() -> None:
    op.execute(
        "CREATE OR REPLACE FUNCTION classy_try_date(value text) RETURNS date LANGUAGE plpgsql STABLE AS "
        "$$ BEGIN RETURN nullif(btrim(value), '')::date; EXCEPTION WHEN others THEN RETURN NULL; END $$"
    )
    for name, column_type in DONATION_COLUMNS:
        op.add_column("donation", sa.Column(name, column_type, nullable=True))
    for table, name, column_type in OTHER_COLUMNS:
        op.add_column(table, sa.Column(name, column_type, nullable=True))
    op.create_index("ix_donation_account_recurring_plan", "donation", ["account", "classy_recurring_plan_id"])
    op.create_index(
        "ix_recurring_plan_account_supporter", "recurring_plan", ["account", "classy_supporter_id"]
    )
    for table, columns in NEW_TABLES.items():
        op.create_table(
            table,
            *columns,
            sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
            sa.Column("account", sa.Text(), nullable=False),
            sa.Column("classy_id", sa.BigInteger(), nullable=False),
            sa.Column("organization_id", sa.BigInteger(), nullable=False),
            sa.Column("classy_created_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("classy_updated_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("raw", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
            sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
            sa.UniqueConstraint("account", "classy_id", name=op.f(f"uq_{table}_account_classy_id")),
        )
    op.execute(_BACKFILL_DONATIONS)
    for statement in _BACKFILL_OTHERS:
        op.execute(statement)


def downgrade() -> None:
    for table in NEW_TABLES:
        op.drop_table(table)
    op.drop_index("ix_recurring_plan_account_supporter", table_name="recurring_plan")
    op.drop_index("ix_donation_account_recurring_plan", table_name="donation")
    for table, name, _ in OTHER_COLUMNS:
        op.drop_column(table, name)
    for name, _ in DONATION_COLUMNS:
        op.drop_column("donation", name)
    op.execute("DROP FUNCTION IF EXISTS classy_try_date(text)")
