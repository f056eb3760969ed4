"""The Classy lists we sync and the table each one feeds, in the order a run reads them.

Campaigns come first so donations show campaign names at once; order is not needed for
correctness (donations whose supporter or campaign arrives later are linked when it does).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.db.repositories.classy_columns import (
    CAMPAIGN,
    DESIGNATION,
    DONATION,
    FUNDRAISING_PAGE,
    FUNDRAISING_TEAM,
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
    # What gifts are for (campaigns, funds, pages, teams): read whole even right after a switch to
    # another organization, whose older history is otherwise never imported, because a new gift copies
    # their names (campaign_name, designation_name, ...); they are not a donor's history.
    whole_history: bool = False

    def path(self, organization_id: int) -> str:
        return f"/organizations/{organization_id}/{self.resource}"


STREAMS: tuple[Stream, ...] = (
    Stream("campaigns", "campaigns", CAMPAIGN, whole_history=True),
    # Funds and peer-to-peer pages and teams: the spec declares no filter/sort on these lists; where
    # Classy ignores ours, they fall back like any such list (fallback.py). Pages and teams may have a
    # null updated_at.
    Stream("designations", "designations", DESIGNATION, whole_history=True),
    Stream(
        "fundraising_teams",
        "fundraising-teams",
        FUNDRAISING_TEAM,
        nullable_updated_at=True,
        whole_history=True,
    ),
    Stream(
        "fundraising_pages",
        "fundraising-pages",
        FUNDRAISING_PAGE,
        nullable_updated_at=True,
        whole_history=True,
    ),
    Stream("supporters", "supporters", SUPPORTER, feeds_contacts=True),
    Stream("recurring_donation_plans", "recurring-donation-plans", RECURRING_PLAN),
    Stream(
        "transactions",
        "transactions",
        DONATION,
        with_="items,dedication",
        feeds_contacts=True,
        nullable_updated_at=True,
    ),
    Stream("registrations", "registrations", REGISTRATION, feeds_contacts=True),
)
TRANSACTIONS = next(stream for stream in STREAMS if stream.resource == "transactions")
