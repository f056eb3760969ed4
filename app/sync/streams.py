"""The Classy lists we sync and the table each one feeds, in the order a run reads them.

Campaigns come first so donations show campaign names at once; order is not needed for
correctness (donations whose supporter or campaign arrives later are linked when it does).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.db.repositories.classy_columns import (
    CAMPAIGN,
    DONATION,
    RECURRING_PLAN,
    REGISTRATION,
    SUPPORTER,
    ResourceMapping,
)


@dataclass(frozen=True)
class Stream:
    """One org-scoped Classy list."""

    name: str
    resource: str
    mapping: ResourceMapping
    with_: str | None = None
    feeds_contacts: bool = False
    # Classy allows a null updated_at here: such records need the null pass.
    nullable_updated_at: bool = False

    def path(self, organization_id: int) -> str:
        return f"/organizations/{organization_id}/{self.resource}"


STREAMS: tuple[Stream, ...] = (
    Stream("campaigns", "campaigns", CAMPAIGN),
    Stream("supporters", "supporters", SUPPORTER, feeds_contacts=True),
    Stream("recurring_donation_plans", "recurring-donation-plans", RECURRING_PLAN),
    Stream(
        "transactions", "transactions", DONATION, with_="items", feeds_contacts=True, nullable_updated_at=True
    ),
    Stream("registrations", "registrations", REGISTRATION, feeds_contacts=True),
)
