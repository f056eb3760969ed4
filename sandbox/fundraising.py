"""An organization's funds (designations), peer-to-peer teams and pages, and what they add to gifts.

Kept apart from ``generate.py`` and drawn from its own ``random.Random`` (seeded by organization id),
so adding these never changes the supporters, transactions and registrations other tests rely on.
``decorate`` gives each transaction its fund, page and team, a payment variety (offline gifts, free
registrations, other products, foreign currencies, company gifts, SMS consent) and, now and then, a
dedication: together the transactions make every ``kind`` the service derives from ``items``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from sandbox import names

Row = dict[str, Any]
Sink = Callable[[str, Row, list[Row] | None], None]
TakeId = Callable[[str], int]
Stamp = Callable[[int | None], str | None]

DESIGNATION_NAMES = (
    "General Fund",
    "Scholarship Fund",
    "Building Fund",
    "Emergency Relief",
    "Youth Programs",
    "Endowment",
)
TEAM_WORDS = ("Runners", "Walkers", "Riders", "Heroes", "Champions", "Crew")
COMPANIES = ("Acme Corp", "Globex", "Initech", "Umbrella Health", "Stark Industries", "=SUM(A1:A9)")
HONOREES = ("Grandma Rose", "Uncle Joe", "Coach Rivera", "Dr. Patel", "Ms. Alvarez")
P2P_TYPES = ("peer_to_peer", "crowdfunding", "gfm_p2p")
TICKETED = ("ticketed", "registration", "reg_w_fund")
_ZERO_AMOUNTS = (
    "total_gross_amount",
    "donation_gross_amount",
    "donation_net_amount",
    "fees_amount",
    "classy_fees_amount",
    "pp_fees_amount",
    "overhead_net_amount",
    "initial_gross_amount",
    "raw_total_gross_amount",
    "raw_donation_gross_amount",
    "charged_total_gross_amount",
    "charged_fees_amount",
)
_NO_PAYMENT = {
    "payment_type": None,
    "payment_source": None,
    "payment_gateway": None,
    "card_type": None,
    "card_last_four": None,
    "card_expiration": None,
    "account_type": None,
    "pp_transaction_id": None,
}


class Fundraising:
    """One organization's designations, teams and pages; decorates its transactions."""

    def __init__(self, org_id: int, take: TakeId, default_designation_id: int, ts: Stamp) -> None:
        self.rng = random.Random(f"fundraising:{org_id}")
        self.org_id = org_id
        self.take = take
        self.ts = ts
        self.default_designation_id = default_designation_id
        self.designation_ids = [default_designation_id] + [take("designations") for _ in range(3)]
        self.pages_by_campaign: dict[int, list[Row]] = {}

    def build(self, campaigns: list[Row], supporter_ids: list[int], created: int, sink: Sink) -> None:
        """Emit the designations, then a few teams and pages on each peer-to-peer campaign."""
        for i, did in enumerate(self.designation_ids):
            sink("designations", self.designation(did, DESIGNATION_NAMES[i], created, i == 0), None)
        teams: list[tuple[Row, Row]] = []
        for camp in campaigns:
            if camp["type"] in P2P_TYPES or self.rng.random() < 0.3:
                for _ in range(self.rng.randint(1, 2)):
                    teams.append((camp, self.team(camp, created)))
        for _, team in teams:
            sink("fundraising-teams", team, None)
        for camp, team in teams:
            for _ in range(self.rng.randint(1, 3)):
                sup = self.rng.choice(supporter_ids) if supporter_ids else None
                sink("fundraising-pages", self.page(camp, team, sup, created), None)

    def designation(self, did: int, name: str, created: int, default: bool = False) -> Row:
        return {
            "id": did,
            "organization_id": self.org_id,
            "name": name,
            "description": None,
            "goal": f"{self.rng.choice((5000, 10000, 25000))}.0",
            "external_reference_id": f"GL-{4000 + did % 1000}",
            "is_active": True,
            "is_complete": False,
            "is_default": default,
            "start_time": None,
            "end_time": None,
            "city": None,
            "state": None,
            "postal_code": None,
            "created_at": self.ts(created),
            "updated_at": self.ts(created + self.rng.randint(0, 86400)),
        }

    def team(self, camp: Row, created: int) -> Row:
        goal = float(self.rng.choice((1000, 2500, 5000)))
        return {
            "id": self.take("fundraising-teams"),
            "organization_id": self.org_id,
            "campaign_id": camp["id"],
            "parent_id": None,
            "root_id": None,
            "team_lead_id": None,
            "team_lead_supporter_id": None,
            "team_policy_id": None,
            "designation_id": self.default_designation_id,
            "name": f"{self.rng.choice(names.LAST_NAMES)} {self.rng.choice(TEAM_WORDS)}",
            "description": None,
            "status": "active",
            "goal": goal,
            "raw_goal": f"{goal:.3f}",
            "currency_code": "USD",
            "city": None,
            "state": None,
            "postal_code": None,
            "country": "US",
            "created_at": self.ts(created),
            "updated_at": self.ts(created + self.rng.randint(0, 86400)),
        }

    def page(self, camp: Row, team: Row | None, supporter_id: int | None, created: int) -> Row:
        goal = float(self.rng.choice((250, 500, 1000)))
        first = self.rng.choice(names.FIRST_NAMES)
        page = {
            "id": self.take("fundraising-pages"),
            "organization_id": self.org_id,
            "campaign_id": camp["id"],
            "fundraising_team_id": team["id"] if team else None,
            "member_id": None,
            "supporter_id": supporter_id,
            "designation_id": self.default_designation_id,
            "parent_id": None,
            "title": f"{first}'s {self.rng.choice(('run', 'ride', 'walk', 'challenge'))}",
            "alias": first,
            "intro_text": None,
            "goal": goal,
            "raw_goal": f"{goal:.3f}",
            "currency_code": "USD",
            "raw_currency_code": "USD",
            "status": "active",
            "team_role": self.rng.choice(("primary-captain", "co-captain", None)) if team else None,
            "canonical_url": None,
            "ended_at": None,
            "created_at": self.ts(created),
            "updated_at": self.ts(created + self.rng.randint(0, 86400)),
        }
        page["canonical_url"] = f"/fundraiser/{page['id']}"
        self.pages_by_campaign.setdefault(camp["id"], []).append(page)
        return page

    def decorate(self, txn: Row, items: list[Row], campaign: Row, recurring: bool) -> Row | None:
        """Fund, page, payment variety and extras of one transaction; returns its dedication, if any."""
        r = self.rng
        did = self.default_designation_id if r.random() < 0.65 else r.choice(self.designation_ids)
        pages = self.pages_by_campaign.get(campaign["id"])
        page = r.choice(pages) if pages and r.random() < 0.5 else None
        for row in (txn, *items):
            row["designation_id"] = did
            row["fundraising_page_id"] = page["id"] if page else None
            row["fundraising_team_id"] = page["fundraising_team_id"] if page else None
        roll = r.random()
        single_gift = not recurring and len(items) == 1
        if single_gift and roll < 0.06:
            self._offline(txn, items)
        elif single_gift and roll < 0.09:
            items[0].update(type="custom_product", product_name="Event T-shirt", donation_gross_amount=0.0)
        elif single_gift and roll < 0.14 and campaign["type"] in TICKETED:
            self._free_registration(txn, items)
        self._extras(txn)
        if items[0]["type"] in ("donation", "offline_donation") and r.random() < 0.07:
            return self.dedication(txn)
        return None

    def _offline(self, txn: Row, items: list[Row]) -> None:
        items[0].update(type="offline_donation", product_name="Offline Donation")
        txn.update(_NO_PAYMENT)
        txn.update(payment_method=self.rng.choice(("Check", "Cash", "Stock")), payment_source="MANUAL")

    def _free_registration(self, txn: Row, items: list[Row]) -> None:
        items[0].update(
            type="registration",
            product_name=self.rng.choice(names.TICKET_NAMES),
            price=0.0,
            raw_price=0.0,
            final_price=0.0,
            raw_final_price=0.0,
            donation_gross_amount=0.0,
            donation_net_amount=0.0,
            fees_amount=0.0,
        )
        for name in _ZERO_AMOUNTS:
            txn[name] = 0.0
        txn.update(_NO_PAYMENT)
        txn.update(payment_method=None, is_donor_covered_fee=False, fee_on_top=False)

    def _extras(self, txn: Row) -> None:
        r = self.rng
        if r.random() < 0.06:
            txn["company_name"] = r.choice(COMPANIES)
        if r.random() < 0.15:
            txn["member_cell_phone"] = f"{r.randint(201, 989)}-555-{r.randint(0, 9999):04d}"
        consent = dict(txn.get("consent") or {})
        if r.random() < 0.3:
            consent["sms_opt_in"] = r.random() < 0.6
            consent["sms_consent_decision_date"] = txn.get("purchased_at")
        txn["consent"] = consent
        if r.random() < 0.03:
            txn["hide_amount"] = True
        if txn.get("card_last_four") is not None and r.random() < 0.05:
            txn["card_last_four"] = r.randint(1, 999)  # Classy sends an integer: 0042 arrives as 42
        if txn.get("total_gross_amount") and r.random() < 0.05:
            txn["raw_currency_code"] = "CAD"
            txn["raw_donation_gross_amount"] = round(txn["donation_gross_amount"] * 1.37, 2)
            txn["raw_total_gross_amount"] = round(txn["total_gross_amount"] * 1.37, 2)

    def dedication(self, txn: Row) -> Row:
        r = self.rng
        honoree = r.choice(HONOREES)
        first, last = r.choice(names.FIRST_NAMES), r.choice(names.LAST_NAMES)
        return {
            "id": self.take("dedications"),
            "transaction_id": txn["id"],
            "type": r.choice(("honor", "memory")),
            "honoree_name": honoree,
            "honoree_first_name": honoree.split(" ")[0],
            "honoree_last_name": honoree.split(" ")[-1],
            "name": f"{first} {last}",
            "first_name": first,
            "last_name": last,
            "email_address": f"{first.lower()}.{last.lower()}@example.com" if r.random() < 0.8 else None,
            "address": None,
            "city": None,
            "state": None,
            "postal_code": None,
            "country": None,
            "is_gift_amount_msg_included": r.random() < 0.5,
            "ecard_id": None,
            "ecard_message": r.choice(("Thinking of you", None)),
            "updated_at": txn.get("created_at"),
        }
