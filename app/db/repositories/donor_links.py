"""SQL of donor linking: supporters our gifts name but we never read, and Classy's 404s among them.

A donation names its donor by `supporter_id`; the supporters list only brings supporters changed in a
window, so after a switch to another organization (history floor) a new gift can name a supporter
older than the cut-off. The sync reads those by id (`app.sync.donor_links`); the ones Classy does not
have are remembered in `missing_supporter`, and their gifts are linked by the purchaser instead: the
contact merge treats such a donation like one without a supporter (`PURCHASER_STANDS_FOR_DONOR`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


def purchaser_stands_for_donor(alias: str) -> str:
    """SQL: the donation row `alias` is its own person (no supporter, or one Classy does not have)."""
    return (
        f"({alias}.classy_supporter_id IS NULL OR EXISTS (SELECT 1 FROM missing_supporter m "
        f"WHERE m.account = {alias}.account AND m.classy_id = {alias}.classy_supporter_id))"
    )


_UNSEEN = text("""
SELECT x.id FROM (
    SELECT DISTINCT d.classy_supporter_id AS id FROM donation d
    WHERE d.account = :account AND d.organization_id = :organization_id
      AND d.contact_id IS NULL AND d.classy_supporter_id IS NOT NULL
    UNION
    SELECT DISTINCT r.supporter_id FROM registration r
    WHERE r.account = :account AND r.organization_id = :organization_id
      AND r.supporter_id IS NOT NULL AND r.synced_at >= :since
) x
WHERE NOT EXISTS (SELECT 1 FROM supporter s WHERE s.account = :account AND s.classy_id = x.id)
  AND NOT EXISTS (SELECT 1 FROM missing_supporter m WHERE m.account = :account AND m.classy_id = x.id)
ORDER BY x.id
LIMIT :limit
""")


async def unseen_supporters(
    session: AsyncSession, *, account: str, organization_id: int, since: datetime, limit: int
) -> list[int]:
    """Supporter ids named by an unlinked donation of the organization, or by a registration of it
    written since `since`, that we hold no record of and Classy has not already answered 404 for."""
    params = {"account": account, "organization_id": organization_id, "since": since, "limit": limit}
    result = await session.execute(_UNSEEN, params)
    return [int(row.id) for row in result]


async def any_missing(session: AsyncSession, *, account: str) -> bool:
    """Whether Classy answered 404 for any supporter of the account (only then is there anything for
    `link_by_purchaser` to do)."""
    statement = text("SELECT EXISTS (SELECT 1 FROM missing_supporter WHERE account = :account)")
    return bool(await session.scalar(statement, {"account": account}))


async def mark_missing(session: AsyncSession, *, account: str, ids: Sequence[int]) -> None:
    if ids:
        await session.execute(
            text(
                "INSERT INTO missing_supporter (account, classy_id, checked_at) "
                "SELECT :account, unnest(CAST(:ids AS bigint[])), now() "
                "ON CONFLICT (account, classy_id) DO UPDATE SET checked_at = now()"
            ),
            {"account": account, "ids": list(ids)},
        )


_FORGET_FOUND = text("""
DELETE FROM missing_supporter m WHERE m.account = :account
AND EXISTS (SELECT 1 FROM supporter s WHERE s.account = m.account AND s.classy_id = m.classy_id)
""")

# Donations of missing supporters not linked yet: their purchaser email (a person of its own, see
# `purchaser_stands_for_donor`) and their transaction (to be linked) go to the contact merge queue.
_QUEUE_PURCHASERS = text("""
INSERT INTO contact_refresh (account, kind, key)
SELECT DISTINCT :account, k.kind, k.key FROM donation d
JOIN missing_supporter m ON m.account = d.account AND m.classy_id = d.classy_supporter_id
CROSS JOIN LATERAL (VALUES ('email', d.email_lower), ('transaction', d.classy_transaction_id::text))
    AS k(kind, key)
WHERE d.account = :account AND d.contact_id IS NULL AND d.email_lower IS NOT NULL
""")

# Without a purchaser email either, the donor is still the supporter the gift names: a contact keyed by
# that id (as for a supporter without email), with the purchaser's name and address.
_PERSON = "first_name, last_name, email, phone, address1, address2, city, state, postal_code, country"
_CONTACTS_WITHOUT_EMAIL = text(f"""
INSERT INTO contact (account, email_lower, classy_supporter_id, {_PERSON}, email_opt_in,
                     classy_created_at, classy_updated_at, created_at, updated_at)
SELECT DISTINCT ON (d.classy_supporter_id) :account, NULL, d.classy_supporter_id, {_PERSON}, email_opt_in,
       d.created_at, coalesce(d.updated_at, d.created_at), now(), now()
FROM donation d
JOIN missing_supporter m ON m.account = d.account AND m.classy_id = d.classy_supporter_id
WHERE d.account = :account AND d.contact_id IS NULL AND d.email_lower IS NULL
ORDER BY d.classy_supporter_id, coalesce(d.updated_at, d.created_at) DESC NULLS LAST
ON CONFLICT (account, classy_supporter_id) WHERE email_lower IS NULL DO NOTHING
""")
_LINK_WITHOUT_EMAIL = text("""
UPDATE donation d SET contact_id = c.id
FROM missing_supporter m, contact c
WHERE d.account = :account AND d.contact_id IS NULL AND d.email_lower IS NULL
  AND m.account = d.account AND m.classy_id = d.classy_supporter_id
  AND c.account = d.account AND c.email_lower IS NULL AND c.classy_supporter_id = d.classy_supporter_id
""")


async def link_by_purchaser(session: AsyncSession, *, account: str) -> None:
    """Gifts of supporters Classy does not have: queue their purchasers for the merge, or (no email)
    give them a contact keyed by the supporter id now. Supporters that turned up after all are
    forgotten as missing (their own record links their gifts)."""
    params = {"account": account}
    await session.execute(_FORGET_FOUND, params)
    await session.execute(_QUEUE_PURCHASERS, params)
    await session.execute(_CONTACTS_WITHOUT_EMAIL, params)
    await session.execute(_LINK_WITHOUT_EMAIL, params)
