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


def json_array(field: str) -> Column:
    expr = f"(CASE WHEN jsonb_typeof(r->'{field}') = 'array' THEN r->'{field}' END)"
    return Column(expr, expr)


@dataclass(frozen=True, eq=False)
class ResourceMapping:
    """A table fed by one Classy resource: its natural key and the SQL expression of each column."""

    table: str
    key_column: str
    columns: dict[str, Column]


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
        "items": json_array("items"),
    },
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
        **_PERSON_TIMES,
    },
)
