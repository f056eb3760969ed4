"""Deterministic, realistic Classy-shaped data (``random.Random`` seeded per organization).

Each organization draws from ``random.Random(f"{seed}:{index}")``, so its data does not depend on the
sizes of the other organizations. Generated timestamps lie in ``[GEN_START, GEN_END)`` (fixed, so the
output never depends on the wall clock); mutations made later use the real clock. Hazards reproduced on
purpose: a bulk import that stamps a fifth of the supporters (and a block of offline transactions) with
one ``updated_at`` second, a few transactions with ``updated_at: null``, refunds, failures, guests.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from sandbox import names
from sandbox.fundraising import Fundraising
from sandbox.timefmt import format_date, format_ts

Row = dict[str, Any]
T = TypeVar("T")

GEN_START = 1577836800  # 2020-01-01T00:00:00Z
GEN_END = 1748736000  # 2025-06-01T00:00:00Z
ID_BASES = {
    "campaigns": 227_000,
    "supporters": 5_800_000,
    "transactions": 62_000_000,
    "items": 17_000_000,
    "registrations": 78_000_000,
    "recurring-donation-plans": 85_000_000,
    "members": 2_000_000,
    "attendees": 248_000_000,
    "designations": 34_600,
    "fundraising-teams": 209_000,
    "fundraising-pages": 2_170_000,
    "dedications": 540_000,
}
_GIFTS = (
    10.0,
    15.0,
    20.0,
    25.0,
    25.0,
    35.0,
    50.0,
    50.0,
    52.5,
    75.0,
    100.0,
    100.0,
    150.0,
    250.0,
    500.0,
    1000.0,
)
_STATUSES = (
    ("success", 0.86),
    ("refunded", 0.05),
    ("failed", 0.04),
    ("pending", 0.02),
    ("canceled", 0.01),
    ("incomplete", 0.01),
    ("cb_lost", 0.005),
    ("voided", 0.005),
)
_PLAN_STATUSES = (("active", 70.0), ("canceled", 15.0), ("failed", 5.0), ("paused", 5.0), ("ended", 5.0))
_PLAN_PAY = (("Credit Card", 85.0), ("ACH", 10.0), ("Paypal", 5.0))
_TXN_PAY = (("Credit Card", 80.0), ("ACH", 10.0), ("PayPal", 8.0), ("Venmo", 2.0))
_REG_STATUSES = (("attending", 90.0), ("not_attending", 6.0), ("archived", 4.0))
_PLAN_FREQ = {
    "monthly": "monthly",
    "yearly": "yearly",
    "quarterly": "quarterly",
    "weekly": "weekly",
    "semi-annually": "semi-annual",
}


@dataclass
class Sizes:
    """How many records of each kind to generate per organization."""

    supporters: int = 500
    transactions: int = 1500
    registrations: int = 200
    campaigns: int = 8
    plans: int = 60


class Ids:
    """Global id counters per resource (ids are unique across organizations, like Classy's)."""

    def __init__(self) -> None:
        self._next = dict(ID_BASES)

    def take(self, kind: str) -> int:
        value = self._next[kind]
        self._next[kind] = value + 1
        return value

    def state(self) -> dict[str, int]:
        return dict(self._next)


@dataclass(slots=True)
class Person:
    first: str
    last: str
    email: str
    phone: str | None
    address1: str
    city: str
    state: str
    postal_code: str
    country: str = "US"


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


_ASCII = {n: _ascii(n) for n in (*names.FIRST_NAMES, *names.LAST_NAMES)}


class SupRef(NamedTuple):
    """What linked records need from a supporter."""

    id: int
    member_id: int | None
    person: Person


def sup_ref(row: Row) -> SupRef:
    """Build a SupRef from a supporter row."""
    return SupRef(
        row["id"],
        row["member_id"],
        Person(
            row["first_name"],
            row["last_name"],
            row["email_address"],
            row["phone"],
            row["address1"],
            row["city"],
            row["state"],
            row["postal_code"],
        ),
    )


class OrgGenerator:
    """Builds records for one organization; also used later for inserts and churn."""

    def __init__(self, rng: random.Random, org_id: int, ids: Ids) -> None:
        self.rng = rng
        self.rand = rng.random
        self.org_id = org_id
        self.ids = ids
        self.emails: set[str] = set()
        self.designation_id = ids.take("designations")
        self._ts: dict[int, str] = {}
        self._contexts: dict[int, Row] = {}
        self.fundraising = Fundraising(org_id, ids.take, self.designation_id, self.ts)

    def ri(self, a: int, b: int) -> int:
        """Uniform int in [a, b] (faster than ``randint``)."""
        return a + int(self.rand() * (b - a + 1))

    def pick(self, seq: Sequence[T]) -> T:
        return seq[int(self.rand() * len(seq))]

    def weighted(self, table: tuple[tuple[str, float], ...]) -> str:
        x = self.rand() * sum(w for _, w in table)
        for value, weight in table:
            x -= weight
            if x < 0:
                return value
        return table[-1][0]

    def ts(self, epoch: int | None) -> str | None:
        """Formatted timestamp; identical seconds share one string object."""
        if epoch is None:
            return None
        s = self._ts.get(epoch)
        if s is None:
            s = self._ts[epoch] = format_ts(epoch)
        return s

    def person(self) -> Person:
        ri, pick = self.ri, self.pick
        first, last = pick(names.FIRST_NAMES), pick(names.LAST_NAMES)
        email = f"{_ASCII[first]}.{_ASCII[last]}{ri(1, 999)}@{pick(names.EMAIL_DOMAINS)}"
        while email in self.emails:
            email = f"{_ASCII[first]}{ri(1000, 999_999)}@{pick(names.EMAIL_DOMAINS)}"
        self.emails.add(email)
        city, state, zip3 = pick(names.CITIES)
        phone = f"{ri(201, 989)}-555-{ri(0, 9999):04d}" if self.rand() < 0.7 else None
        return Person(
            first,
            last,
            email,
            phone,
            f"{ri(1, 9999)} {pick(names.STREETS)}",
            city,
            state,
            f"{zip3}{ri(0, 99):02d}",
        )

    def organization(self, index: int) -> Row:
        city, state, zip3 = self.pick(names.CITIES)
        name = names.ORG_NAMES[index % len(names.ORG_NAMES)]
        return {
            "id": self.org_id,
            "name": name,
            "status": "active",
            "type": "npo",
            "plan_type": "Enterprise",
            "currency_code": "USD",
            "currency": "USD",
            "timezone_identifier": "America/Los_Angeles",
            "address": f"{self.ri(1, 999)} Main St",
            "city": city,
            "state": state,
            "postal_code": f"{zip3}01",
            "country": "US",
            "url": f"https://{_ascii(name)}.example.org",
            "mission": f"{name} serves our community.",
            "description": None,
            "opt_in_wording": None,
            "sms_opt_in_text": None,
            "flex_rate_percent": 0,
            "fixed_fot_percent": "5.00",
            "created_at": self.ts(GEN_START - 86400 * 400),
            "updated_at": self.ts(GEN_START - 86400 * 30),
        }

    def campaign(self, created: int, updated: int) -> Row:
        cid = self.ids.take("campaigns")
        ctype = self.pick(names.CAMPAIGN_TYPES)
        year = time_year(created)
        goal = float(self.pick((5000, 10000, 25000, 50000, 100000, 250000)))
        city, state, zip3 = self.pick(names.CITIES)
        ticketed = ctype in ("ticketed", "registration", "reg_w_fund")
        return {
            "id": cid,
            "organization_id": self.org_id,
            "designation_id": self.designation_id,
            "external_id": None,
            "name": f"{self.pick(names.CAMPAIGN_WORDS)} {year}",
            "internal_name": f"C{cid}",
            "type": ctype,
            "status": self.pick(("active", "active", "deactivated")),
            "goal": goal,
            "raw_goal": f"{goal:.3f}",
            "currency_code": "USD",
            "raw_currency_code": "USD",
            "started_at": self.ts(created),
            "ended_at": self.ts(created + 86400 * self.ri(30, 365)),
            "timezone_identifier": "America/Los_Angeles",
            "venue": "City Hall" if ticketed else None,
            "address1": f"{self.ri(1, 999)} {self.pick(names.STREETS)}" if ticketed else None,
            "city": city if ticketed else None,
            "state": state if ticketed else None,
            "postal_code": f"{zip3}{self.ri(0, 99):02d}" if ticketed else None,
            "country": "US" if ticketed else None,
            "contact_email": f"events@org{self.org_id}.example.org",
            "canonical_url": f"/campaign/c{cid}",
            # "Require" in the event's checkout settings: its free registrants give address and phone
            # too (by default Classy asks them only for name, email and postal code). About one in four.
            "is_billing_address_required": cid % 4 == 0,
            "created_at": self.ts(created),
            "updated_at": self.ts(updated),
        }

    def supporter(self, created: int, updated: int | None, campaign_id: int | None) -> Row:
        p = self.person()
        return {
            "id": self.ids.take("supporters"),
            "member_id": self.ids.take("members") if self.rand() < 0.6 else None,
            "first_name": p.first,
            "last_name": p.last,
            "nickname": None,
            "email_address": p.email,
            "phone": p.phone,
            "cell_phone": None if self.rand() < 0.8 else p.phone,
            "address1": p.address1,
            "address2": "Apt 4" if self.rand() < 0.05 else None,
            "city": p.city,
            "state": p.state,
            "postal_code": p.postal_code,
            "country": p.country,
            "location": None,
            "gender": None,
            "birthday": f"{self.ri(1, 12)}/{self.ri(1, 28)}" if self.rand() < 0.1 else None,
            "opt_in": self.rand() < 0.55,
            "origin": self.pick(("donation", "donation", "registration", "import")),
            "source_organization_id": self.org_id,
            "source_campaign_id": campaign_id,
            "source_fundraising_page_id": None,
            "source_member_id": None,
            "last_emailed_at": None,
            "metadata": None,
            "created_at": self.ts(created),
            "updated_at": self.ts(updated),
        }

    def plan(self, supporter: SupRef, campaign: Row, created: int, updated: int) -> Row:
        freq = self.pick(("monthly",) * 8 + ("yearly", "quarterly", "weekly", "semi-annually"))
        amount = self.pick((10.0, 15.0, 20.0, 25.0, 25.0, 50.0, 100.0, 18.5))
        status = self.weighted(_PLAN_STATUSES)
        pay = self.weighted(_PLAN_PAY)
        day = self.ri(1, 28)
        month = time_month(created)
        return {
            "id": self.ids.take("recurring-donation-plans"),
            "organization_id": self.org_id,
            "campaign_id": campaign["id"],
            "supporter_id": supporter.id,
            "member_id": supporter.member_id,
            "fundraising_page_id": None,
            "fundraising_team_id": None,
            "designation_id": self.designation_id,
            "status": status,
            "frequency": freq,
            "donation_amount": amount,
            "raw_donation_amount": f"{amount:.2f}",
            "currency_code": "USD",
            "raw_currency_code": "USD",
            "started_at": self.ts(created),
            "next_processing_date": format_date(GEN_END + 86400 * day) if status == "active" else None,
            "recur_until": None,
            "schedule": {"mmdd": f"{month:02d}{day:02d}", "month": _MONTHS[month - 1], "day": day},
            "timezone_identifier": "America/Los_Angeles",
            "canceled_at": self.ts(updated) if status == "canceled" else None,
            "cancel_by": self.pick(("admin", "supporter")) if status == "canceled" else None,
            "cancel_reason_text": None,
            "failed_at": self.ts(updated) if status == "failed" else None,
            "is_paused": status == "paused",
            "pause_until": None,
            "first_name": supporter.person.first,
            "last_name": supporter.person.last,
            "company_name": None,
            "address": supporter.person.address1,
            "address2": None,
            "city": supporter.person.city,
            "state": supporter.person.state,
            "postal_code": supporter.person.postal_code,
            "country": "US",
            "payment_type": pay,
            "cc_type": "Visa" if pay == "Credit Card" else None,
            "cc_last_four": f"{self.ri(0, 9999):04d}" if pay == "Credit Card" else None,
            "ach_last_four": self.ri(1000, 9999) if pay == "ACH" else None,
            "is_anonymous": False,
            "hide_amount": False,
            "fee_on_top": self.rand() < 0.4,
            "metadata": None,
            "created_at": self.ts(created),
            "updated_at": self.ts(updated),
        }

    def transaction(
        self,
        *,
        supporter: SupRef | None,
        plan: Row | None,
        campaign: Row,
        created: int,
        updated: int | None,
        status: str | None = None,
    ) -> tuple[Row, list[Row]]:
        tid = self.ids.take("transactions")
        if status is None:
            status = self.weighted(_STATUSES)
        gift = (
            plan["donation_amount"]
            if plan
            else (self.pick(_GIFTS) if self.rand() < 0.7 else round(5 + self.rand() * 495, 2))
        )
        items = [self._item(tid, campaign, "donation", "Donation", 0.0, gift)]
        if (
            campaign["type"] in ("ticketed", "registration", "reg_w_fund")
            and plan is None
            and self.rand() < 0.5
        ):
            price = float(self.pick((25, 40, 75, 150)))
            qty = self.ri(1, 4)
            items.append(
                self._item(
                    tid,
                    campaign,
                    "registration",
                    self.pick(names.TICKET_NAMES),
                    price,
                    round(price * qty, 2),
                    qty,
                )
            )
        subtotal = round(sum(i["final_price"] for i in items), 2)
        fees = round(subtotal * 0.022 + 0.30, 2)
        covered = self.rand() < 0.4
        total = round(subtotal + fees, 2) if covered else subtotal
        for it in items:
            it["fees_amount"] = round(fees * it["final_price"] / subtotal, 2) if subtotal else 0.0
            it["donation_net_amount"] = (
                it["final_price"] if covered else round(it["final_price"] - it["fees_amount"], 2)
            )
        p = self._payer(supporter)
        pay = self.weighted(_TXN_PAY)
        card = pay == "Credit Card"
        email_opt = self.rand() < 0.5
        purchased = self.ts(created)
        refunded = created + 86400 * self.ri(1, 30) if status == "refunded" else None
        if refunded is not None and updated is not None:
            updated = max(updated, refunded)
        row: Row = {
            "id": tid,
            "organization_id": self.org_id,
            "campaign_id": campaign["id"],
            "supporter_id": supporter.id if supporter else None,
            "member_id": supporter.member_id if supporter else None,
            "fundraising_page_id": None,
            "fundraising_team_id": None,
            "designation_id": self.designation_id,
            "recurring_donation_plan_id": plan["id"] if plan else None,
            "parent_transaction_id": None,
            "donation_matching_plan_id": None,
            "tax_entity_id": None,
            "status": status,
            "frequency": _PLAN_FREQ[plan["frequency"]] if plan else "one-time",
            "currency_code": "USD",
            "raw_currency_code": "USD",
            "charged_currency_code": "USD",
            "total_gross_amount": total,
            "donation_gross_amount": items[0]["final_price"],
            "donation_net_amount": round(total - fees, 2),
            "fees_amount": fees,
            "classy_fees_amount": 0.0,
            "pp_fees_amount": fees,
            "overhead_net_amount": round(subtotal - items[0]["final_price"], 2),
            "adjustment_amount": 0.0,
            "initial_gross_amount": total,
            "raw_total_gross_amount": total,
            "raw_donation_gross_amount": items[0]["final_price"],
            "charged_total_gross_amount": total,
            "charged_fees_amount": fees,
            "fee_on_top": covered,
            "is_donor_covered_fee": covered,
            "applied_fot_percent": 0.0,
            "payment_method": "Stripe" if card else pay,
            "payment_type": pay,
            "payment_source": self.pick(("CC", "APPLE_PAY", "GOOGLE_PAY")) if card else pay.upper(),
            "payment_gateway": "Classy Pay",
            "card_type": self.pick(("Visa", "Mastercard", "Amex")) if card else None,
            "card_last_four": self.ri(1000, 9999) if card else None,
            "card_expiration": f"{self.ri(1, 12):02d}{self.ri(26, 31)}" if card else None,
            "account_type": "checking" if pay == "ACH" else None,
            "institution": None,
            "pp_transaction_id": f"ch_{self.rng.getrandbits(64):016x}" if status != "failed" else None,
            "billing_first_name": p.first,
            "billing_last_name": p.last,
            "billing_address1": p.address1,
            "billing_address2": None,
            "billing_city": p.city,
            "billing_state": p.state,
            "billing_postal_code": p.postal_code,
            "billing_country": "US",
            "member_name": f"{p.first} {p.last}",
            "member_email_address": p.email,
            "member_phone": p.phone,
            "member_cell_phone": None,
            "member_country": "US",
            "company_name": None,
            "is_anonymous": self.rand() < 0.05,
            "hide_amount": False,
            "is_gift_aid": False,
            "is_reprocess": False,
            "comment": self.pick(names.COMMENTS) if self.rand() < 0.08 else None,
            "in_honor_of": None,
            "promo_code_code": None,
            "metadata": None,
            "consent": {
                "email_opt_in": email_opt,
                "email_consent_decision_date": purchased,
                "sms_opt_in": None,
                "sms_consent_decision_date": None,
            },
            "context": self._context(campaign),
            "purchased_at": purchased,
            "charged_at": purchased if status not in ("failed", "pending") else None,
            "refunded_at": self.ts(refunded),
            "created_at": purchased,
            "updated_at": self.ts(updated),
        }
        return row, items

    def _context(self, campaign: Row) -> Row:
        """Context objects are shared per campaign (never mutated in place)."""
        ctx = self._contexts.get(campaign["id"])
        if ctx is None:
            ctx = self._contexts[campaign["id"]] = {
                "source_campaign_id": campaign["id"],
                "source_campaign_type": campaign["type"],
                "is_passport": True,
            }
        return ctx

    def _payer(self, supporter: SupRef | None) -> Person:
        return self.person() if supporter is None else supporter.person

    def _item(
        self, tid: int, campaign: Row, kind: str, product: str, price: float, final: float, qty: int = 1
    ) -> Row:
        return {
            "id": self.ids.take("items"),
            "transaction_id": tid,
            "organization_id": self.org_id,
            "campaign_id": campaign["id"],
            "fundraising_page_id": None,
            "fundraising_team_id": None,
            "designation_id": self.designation_id,
            "product_id": None,
            "commerce_order_item_id": None,
            "type": kind,
            "product_name": product,
            "quantity": qty,
            "price": price,
            "raw_price": price,
            "final_price": final,
            "raw_final_price": final,
            "overhead_amount": 0.0,
            "donation_gross_amount": final if kind == "donation" else 0.0,
            "donation_net_amount": final,
            "fees_amount": 0.0,
            "currency_code": "USD",
            "raw_currency_code": "USD",
        }

    def registration(
        self,
        *,
        campaign: Row,
        created: int,
        updated: int,
        supporter: SupRef | None,
        transaction: Row | None,
        items: list[Row] | None,
        minimal: bool,
    ) -> Row:
        p = self._payer(supporter)
        full = not minimal
        row: Row = {
            "id": self.ids.take("registrations"),
            "campaign_id": campaign["id"],
            "attendee_id": self.ids.take("attendees") if full else None,
            "supporter_id": supporter.id if supporter else None,
            "member_id": supporter.member_id if supporter else None,
            "transaction_id": transaction["id"] if transaction else None,
            "transaction_item_id": items[-1]["id"] if items else None,
            "fundraising_page_id": None,
            "commitment_id": None,
            "status": self.weighted(_REG_STATUSES),
            "first_name": p.first,
            "last_name": p.last,
            "email": p.email,
            "phone": p.phone if full else None,
            "cell": None,
            "address1": p.address1 if full else None,
            "address2": None,
            "city": p.city if full else None,
            "state": p.state if full else None,
            "postal_code": p.postal_code,
            "country": "US" if full else None,
            "company": None,
            "gender": None,
            "date_of_birth": None,
            "tshirt_size": self.pick(("S", "M", "L", "XL", None)) if full else None,
            "product_name": self.pick(names.TICKET_NAMES) if full else None,
            "transaction_payment_type": transaction["payment_type"] if transaction else None,
            "transaction_last_four": transaction["card_last_four"] if transaction else None,
            "created_at": self.ts(created),
            "updated_at": self.ts(updated),
        }
        return row


_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def time_year(epoch: int) -> int:
    return int(format_date(epoch)[:4])


def time_month(epoch: int) -> int:
    return int(format_date(epoch)[5:7])


def _times(gen: OrgGenerator, n: int, block: int, block_ts: int) -> list[int]:
    """n sorted creation times; `block` of them share the second `block_ts` (a bulk import)."""
    times = [gen.ri(GEN_START, GEN_END - 3600) for _ in range(n - block)]
    times.extend([block_ts] * block)
    times.sort()
    return times


def _touched(gen: OrgGenerator, created: int) -> int:
    """An updated_at: usually seconds after creation, sometimes much later."""
    if gen.rand() < 0.7:
        return created + gen.ri(0, 5)
    return gen.ri(created, GEN_END - 1)


Sink = Callable[[str, Row, list[Row] | None], None]


def generate_org(
    seed: int, index: int, org_id: int, sizes: Sizes, ids: Ids, sink: Sink
) -> tuple[Row, OrgGenerator]:
    """Generate one organization, streaming each record to ``sink(resource, row, items)`` in id order."""
    gen = OrgGenerator(random.Random(f"{seed}:{index}"), org_id, ids)
    campaigns = [gen.campaign(t, _touched(gen, t)) for t in _times(gen, max(sizes.campaigns, 1), 0, 0)]
    for c in campaigns:
        sink("campaigns", c, None)
    import_ts = gen.ri(GEN_START + 86400 * 200, GEN_END - 86400 * 200)
    block = sizes.supporters // 5 if sizes.supporters >= 10 else 0
    supporters: list[SupRef] = []
    for t in _times(gen, sizes.supporters, block, import_ts):
        upd = t if (t == import_ts and gen.rand() < 0.95) else _touched(gen, t)
        row = gen.supporter(t, upd, gen.pick(campaigns)["id"])
        supporters.append(sup_ref(row))
        sink("supporters", row, None)
    gen.fundraising.build(campaigns, [s.id for s in supporters], GEN_START, sink)
    plans: list[Row] = []
    if supporters:
        for t in _times(gen, sizes.plans, 0, 0):
            plans.append(gen.plan(gen.pick(supporters), gen.pick(campaigns), t, _touched(gen, t)))
            sink("recurring-donation-plans", plans[-1], None)
    linked: list[tuple[Row, list[Row], SupRef]] = []
    _transactions(gen, sizes, campaigns, supporters, plans, linked, sink)
    for t in _times(gen, sizes.registrations, 0, 0):
        roll = gen.rand()
        camp = gen.pick(campaigns)
        if roll < 0.4 and linked:
            txn, items, sup = gen.pick(linked)
            row = gen.registration(
                campaign=camp,
                created=t,
                updated=_touched(gen, t),
                supporter=sup,
                transaction=txn,
                items=items,
                minimal=False,
            )
        else:
            row = gen.registration(
                campaign=camp,
                created=t,
                updated=_touched(gen, t),
                supporter=None,
                transaction=None,
                items=None,
                minimal=not camp.get("is_billing_address_required"),
            )
        sink("registrations", row, None)
    return gen.organization(index), gen


def _transactions(
    gen: OrgGenerator,
    sizes: Sizes,
    campaigns: list[Row],
    supporters: list[SupRef],
    plans: list[Row],
    linked: list[tuple[Row, list[Row], SupRef]],
    sink: Sink,
) -> None:
    offline_ts = gen.ri(GEN_START + 86400 * 100, GEN_END - 86400 * 100)
    block = min(300, sizes.transactions // 20)
    by_sup = {s.id: s for s in supporters} if plans else {}
    by_camp = {c["id"]: c for c in campaigns}
    for t in _times(gen, sizes.transactions, block, offline_ts):
        plan = gen.pick(plans) if plans and gen.rand() < 0.15 else None
        sup: SupRef | None = None
        if plan is not None:
            sup = by_sup[plan["supporter_id"]]
        elif supporters and gen.rand() < 0.75:
            sup = gen.pick(supporters)
        camp = by_camp[plan["campaign_id"]] if plan else gen.pick(campaigns)
        upd: int | None = t if t == offline_ts else _touched(gen, t)
        if gen.rand() < 0.003:
            upd = None
        row, items = gen.transaction(supporter=sup, plan=plan, campaign=camp, created=t, updated=upd)
        dedication = gen.fundraising.decorate(row, items, camp, plan is not None)
        if sup is not None and len(linked) < 5000:
            linked.append((row, items, sup))
        sink("transactions", row, items)
        if dedication is not None:
            sink("dedications", dedication, None)
