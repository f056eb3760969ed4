"""How each Classy resource maps onto our columns, as SQL over the record's JSON.

Pages are handed to Postgres as one JSON document and mapped there: casting JSON text in SQL keeps
Classy's exact digits for money and is several times cheaper than encoding typed Python values row by
row (see docs/performance-anchors.md). One malformed value becomes NULL in its column (the raw
payload keeps it) instead of failing the page (see `Column`).
"""

from __future__ import annotations

from dataclasses import dataclass


def _path(field: str) -> str:
    parts = field.split(".")
    if len(parts) == 1:
        return f"(r->>'{field}')"
    inner = "->".join(f"'{p}'" for p in parts[:-1])
    return f"(r->{inner}->>'{parts[-1]}')"


@dataclass(frozen=True)
class Column:
    """One column's value as SQL over the record `r`.

    `fast` is a plain cast, right for every value Classy is known to send and the cheapest Postgres
    can do. A value that cannot be cast (text in an amount, a zero-date like `0000-00-00`, February
    30th, an amount too large for NUMERIC(18,2)) fails the statement; the page is then written again
    with `safe`, whose exception-catching functions (migration `safe_casts`) turn just that value into
    NULL.
    """

    fast: str
    safe: str

    def sql(self, *, safe: bool) -> str:
        return self.safe if safe else self.fast


def text(field: str) -> Column:
    expr = f"nullif(btrim({_path(field)}), '')"
    return Column(expr, expr)


def lower_email(field: str) -> Column:
    expr = f"lower(nullif(btrim({_path(field)}), ''))"
    return Column(expr, expr)


def bigint(field: str) -> Column:
    value = _path(field)
    return Column(f"nullif(btrim({value}), '')::bigint", f"classy_try_bigint({value})")


def money(field: str) -> Column:
    value = _path(field)
    # NUMERIC(18,2) would store "NaN" as NaN: no amount is better than one no sum survives.
    fast = f"nullif(round(nullif(btrim({value}), '')::numeric, 2), 'NaN')"
    return Column(fast, f"classy_try_money({value})")


def timestamp(field: str) -> Column:
    value = _path(field)
    return Column(f"nullif(btrim({value}), '')::timestamptz", f"classy_try_timestamptz({value})")


def boolean(field: str) -> Column:
    value = f"lower({_path(field)})"
    expr = (
        f"(CASE WHEN {value} IN ('true','1','t') THEN true WHEN {value} IN ('false','0','f') THEN false END)"
    )
    return Column(expr, expr)


def date(field: str) -> Column:
    """A plain date (`2024-07-15`), such as a plan's next_processing_date."""
    value = _path(field)
    return Column(f"nullif(btrim({value}), '')::date", f"classy_try_date({value})")


def last_four(field: str) -> Column:
    """The last four digits of a card as text: Classy sends an integer, so 0042 arrives as 42."""
    value = f"btrim({_path(field)})"
    expr = f"(CASE WHEN {value} ~ '^[0-9]{{1,4}}$' THEN lpad({value}, 4, '0') END)"
    return Column(expr, expr)


def transaction_kind() -> Column:
    """What a transaction is, from its items (API.md, Donation `kind`)."""

    def expr(total: str) -> str:
        kinds = "coalesce(i->>'type', '')"
        return (
            "(CASE WHEN jsonb_typeof(r->'items') = 'array' AND jsonb_array_length(r->'items') > 0 THEN ("
            f"SELECT CASE WHEN bool_or({kinds} = 'registration') AND {total} > 0 THEN 'ticket' "
            f"WHEN bool_and({kinds} = 'registration') AND coalesce({total}, 0) = 0 THEN 'registration' "
            f"WHEN bool_and({kinds} = 'donation') THEN 'donation' "
            f"WHEN bool_and({kinds} = 'offline_donation') THEN 'offline_donation' "
            "ELSE 'other' END FROM jsonb_array_elements(r->'items') i) ELSE 'other' END)"
        )

    total = money("total_gross_amount")
    return Column(expr(total.fast), expr(total.safe))


def dedication() -> Column:
    """The dedication embedded by `with=dedication`, reduced to what the API shows (null for none)."""
    fields = ", ".join(
        f"'{f}', r->'dedication'->>'{f}'" for f in ("type", "honoree_name", "name", "email_address")
    )
    expr = f"(CASE WHEN jsonb_typeof(r->'dedication') = 'object' THEN jsonb_build_object({fields}) END)"
    return Column(expr, expr)


def json_array(field: str) -> Column:
    expr = f"(CASE WHEN jsonb_typeof(r->'{field}') = 'array' THEN r->'{field}' END)"
    return Column(expr, expr)


@dataclass(frozen=True, eq=False)
class ResourceMapping:
    """A table fed by one Classy resource: its natural key and the SQL expression of each column.

    `drop_keys` are removed from the stored raw payload: card and bank details beyond what we show.
    """

    table: str
    key_column: str
    columns: dict[str, Column]
    drop_keys: tuple[str, ...] = ()

    def raw_sql(self) -> str:
        if not self.drop_keys:
            return "r"
        keys = ", ".join(f"'{k}'" for k in self.drop_keys)
        return f"(r - ARRAY[{keys}])"


def _person(*, email_field: str, prefix: str = "", phone_field: str = "phone") -> dict[str, Column]:
    """Name, email, phone and postal address, from `{prefix}first_name`, `{prefix}address1`, …"""
    return {
        "first_name": text(f"{prefix}first_name"),
        "last_name": text(f"{prefix}last_name"),
        "email": text(email_field),
        "email_lower": lower_email(email_field),
        "phone": text(phone_field),
        **{
            name: text(f"{prefix}{name}")
            for name in ("address1", "address2", "city", "state", "postal_code", "country")
        },
    }


_PERSON_TIMES = {
    "classy_created_at": timestamp("created_at"),
    "classy_updated_at": timestamp("updated_at"),
}

SUPPORTER = ResourceMapping(
    table="supporter",
    key_column="classy_id",
    columns={
        "member_id": bigint("member_id"),
        **_person(email_field="email_address"),
        "email_opt_in": boolean("opt_in"),
        "cell_phone": text("cell_phone"),
        **_PERSON_TIMES,
    },
)

REGISTRATION = ResourceMapping(
    table="registration",
    key_column="classy_id",
    columns={
        "campaign_id": bigint("campaign_id"),
        "supporter_id": bigint("supporter_id"),
        "transaction_id": bigint("transaction_id"),
        "status": text("status"),
        "ticket_name": text("product_name"),
        "company": text("company"),
        "cell_phone": text("cell"),
        **_person(email_field="email"),
        **_PERSON_TIMES,
    },
)

DONATION = ResourceMapping(
    table="donation",
    key_column="classy_transaction_id",
    columns={
        "classy_supporter_id": bigint("supporter_id"),
        "classy_campaign_id": bigint("campaign_id"),
        "classy_recurring_plan_id": bigint("recurring_donation_plan_id"),
        "amount": money("donation_gross_amount"),
        "total_amount": money("total_gross_amount"),
        "fee_amount": money("fees_amount"),
        "net_amount": money("donation_net_amount"),
        "currency": text("currency_code"),
        "status": text("status"),
        "frequency": text("frequency"),
        "is_anonymous": boolean("is_anonymous"),
        "purchased_at": timestamp("purchased_at"),
        "refunded_at": timestamp("refunded_at"),
        "created_at": timestamp("created_at"),
        "updated_at": timestamp("updated_at"),
        # The purchaser: billing name and address, member email and phone.
        **_person(email_field="member_email_address", prefix="billing_", phone_field="member_phone"),
        "email_opt_in": boolean("consent.email_opt_in"),
        "cell_phone": text("member_cell_phone"),
        "sms_opt_in": boolean("consent.sms_opt_in"),
        "items": json_array("items"),
        "kind": transaction_kind(),
        "designation_id": bigint("designation_id"),
        "classy_fundraising_page_id": bigint("fundraising_page_id"),
        "classy_fundraising_team_id": bigint("fundraising_team_id"),
        "payment_type": text("payment_type"),
        "payment_method": text("payment_method"),
        "card_type": text("card_type"),
        "card_last_four": last_four("card_last_four"),
        "donor_covered_fees": boolean("is_donor_covered_fee"),
        "classy_fees_amount": money("classy_fees_amount"),
        "processor_fees_amount": money("pp_fees_amount"),
        "raw_currency": text("raw_currency_code"),
        "raw_amount": money("raw_donation_gross_amount"),
        "company_name": text("company_name"),
        "hide_amount": boolean("hide_amount"),
        "comment": text("comment"),
        "dedication": dedication(),
    },
    # Nothing more of a card or bank account than its type and last four digits is kept.
    drop_keys=("card_expiration", "account_number", "account_type", "institution"),
)

CAMPAIGN = ResourceMapping(
    table="campaign",
    key_column="classy_id",
    columns={
        "name": text("name"),
        "type": text("type"),
        "status": text("status"),
        "goal": money("goal"),
        "currency": text("currency_code"),
        "started_at": timestamp("started_at"),
        "ended_at": timestamp("ended_at"),
        **_PERSON_TIMES,
    },
)

RECURRING_PLAN = ResourceMapping(
    table="recurring_plan",
    key_column="classy_id",
    columns={
        "classy_supporter_id": bigint("supporter_id"),
        "classy_campaign_id": bigint("campaign_id"),
        "status": text("status"),
        "frequency": text("frequency"),
        "amount": money("donation_amount"),
        "currency": text("currency_code"),
        "started_at": timestamp("started_at"),
        "canceled_at": timestamp("canceled_at"),
        "next_charge_on": date("next_processing_date"),
        **_PERSON_TIMES,
    },
)

DESIGNATION = ResourceMapping(
    table="designation",
    key_column="classy_id",
    columns={"name": text("name"), "is_active": boolean("is_active"), **_PERSON_TIMES},
)

FUNDRAISING_PAGE = ResourceMapping(
    table="fundraising_page",
    key_column="classy_id",
    columns={
        "title": text("title"),
        "status": text("status"),
        "classy_campaign_id": bigint("campaign_id"),
        "classy_fundraising_team_id": bigint("fundraising_team_id"),
        **_PERSON_TIMES,
    },
)

FUNDRAISING_TEAM = ResourceMapping(
    table="fundraising_team",
    key_column="classy_id",
    columns={
        "name": text("name"),
        "status": text("status"),
        "classy_campaign_id": bigint("campaign_id"),
        **_PERSON_TIMES,
    },
)
