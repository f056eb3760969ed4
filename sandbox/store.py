"""The sandbox's state: generated organizations and their records, plus auth, traffic and webhooks.

All access goes through ``SandboxStore.lock`` (an RLock) so tests may mutate the store from their own
thread while the server thread serves it. Mutations stamp ``updated_at`` with the real UTC clock
truncated to whole seconds (Classy's precision), so many records can share one second.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

from sandbox.auth import AppReg, AuthState, Member
from sandbox.collection import Collection, Rec
from sandbox.generate import Ids, OrgGenerator, Row, Sizes, generate_org, sup_ref
from sandbox.hostile import Hostile
from sandbox.schema import RESOURCES, TRANSACTION_ITEM
from sandbox.timefmt import TimestampError, format_ts, now_epoch, parse_filter_ts
from sandbox.traffic import Faults, RateLimiter, RequestLog
from sandbox.webhooks import WebhookDispatcher

ORG_BASE = 82364
ORG_STEP = 1117
# What a list may be made to ignore (``POST /_sandbox/quirks``), as some Classy lists may: the
# ``filter`` and ``sort`` parameters, or only ``sort``. A list that ignores sort answers in id order.
# Or refuse with a 400 (the reference's answer to "malformed or invalid params", and it confirms
# sorting and filtering by ``updated_at`` on only some lists): any ``filter`` or ``sort`` naming
# ``updated_at``, or any ``filter`` or ``sort`` at all. Or refuse the list itself with a 403 naming its
# entity (``access``: the app's permissions leave that list out, the organization stays readable).
QUIRKS = ("filter_and_sort", "sort")
REFUSALS = ("updated_at", "filter_and_sort", "access")


@dataclass
class SandboxConfig:
    """Everything needed to (re)build a sandbox deterministically."""

    seed: int = 1
    organizations: int = 2
    sizes: Sizes = field(default_factory=Sizes)
    client_id: str = "sandbox-client"
    client_secret: str = "sandbox-secret"
    redirect_uris: list[str] = field(default_factory=list)  # empty: any redirect_uri is accepted
    member_username: str = "member@example.org"
    member_password: str = "password"
    rate_limit: int = 1800  # requests per minute per app; 0 = unlimited
    token_lifetime: int = 3600
    code_lifetime: int = 300
    churn_interval: float | None = None  # seconds between background churn rounds (demo)
    churn_updates: int = 20
    churn_inserts: int = 5


class StoreError(ValueError):
    """A control request is invalid (400)."""


class SandboxStore:
    """Organizations, their collections, apps, tokens, rate limiter, faults, request log."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.lock = threading.RLock()
        self.webhooks = WebhookDispatcher()
        self.reset()

    def reset(self) -> None:
        """Rebuild everything from the config (data, apps, tokens, faults, log, counters)."""
        cfg = self.config
        with self.lock:
            self.ids = Ids()
            self.orgs: dict[int, Row] = {}
            self.data: dict[int, dict[str, Collection]] = {}
            # Deleted records, kept so a test can restore them: (org, resource, id) → (row, items).
            self.deleted: dict[tuple[int, str, int], tuple[Row, list[Row] | None]] = {}
            self.generators: dict[int, OrgGenerator] = {}
            self.dedication_ids: dict[int, dict[int, int]] = {}  # org -> transaction id -> dedication id
            for i in range(cfg.organizations):
                org_id = ORG_BASE + ORG_STEP * i
                colls = {
                    res: Collection(kinds, tuple(TRANSACTION_ITEM) if res == "transactions" else None)
                    for res, kinds in RESOURCES.items()
                }

                def sink(
                    res: str, row: Row, items: list[Row] | None, c: dict[str, Collection] = colls
                ) -> None:
                    c[res].add(row, items)

                self.orgs[org_id], self.generators[org_id] = generate_org(
                    cfg.seed, i, org_id, cfg.sizes, self.ids, sink
                )
                for coll in colls.values():
                    coll.reindex()
                self.data[org_id] = colls
                self._index_dedications(org_id)
            self.rng = random.Random(f"churn:{cfg.seed}")
            self.auth = AuthState(cfg.token_lifetime, cfg.code_lifetime)
            self.auth.apps[cfg.client_id] = AppReg(
                cfg.client_id, cfg.client_secret, set(self.orgs), list(cfg.redirect_uris)
            )
            self.auth.members[cfg.member_username] = Member(cfg.member_username, cfg.member_password, 2012)
            self.rate = RateLimiter(cfg.rate_limit)
            self.faults = Faults(cfg.seed)
            self.log = RequestLog()
            self.quirks: dict[str, str] = {}  # resource -> one of QUIRKS
            self.hostile = Hostile()
            self.webhooks.clear()

    # -- reading ---------------------------------------------------------------------------
    def collection(self, org_id: int, resource: str) -> Collection | None:
        colls = self.data.get(org_id)
        return colls.get(resource) if colls is not None else None

    def _coll(self, org_id: int, resource: str) -> Collection:
        coll = self.collection(org_id, resource)
        if coll is None:
            raise KeyError((org_id, resource))
        return coll

    def dump(self, org_id: int, resource: str) -> list[Row]:
        """Every record in id order (transactions with their ``items``)."""
        with self.lock:
            coll = self._coll(org_id, resource)
            out = []
            for rid in coll.ids:
                rec = coll.recs[rid]
                row = coll.row(rec)
                if coll.item_fields is not None:
                    row["items"] = coll.item_rows(rec)
                out.append(row)
            return out

    def get(self, org_id: int, resource: str, rid: int) -> Row | None:
        with self.lock:
            coll = self._coll(org_id, resource)
            rec = coll.recs.get(rid)
            if rec is None:
                return None
            row = coll.row(rec)
            if coll.item_fields is not None:
                row["items"] = coll.item_rows(rec)
            return row

    def set_quirk(self, resource: str, ignore: str | None, refuse: str | None = None) -> None:
        """Make every organization's ``resource`` list ignore query parameters, or refuse them with a
        400 (``refuse``; stored as ``refuse_<what>``); neither given: honour them again."""
        if resource not in RESOURCES:
            raise StoreError(f"unknown resource: {resource}")
        if ignore is not None and ignore not in QUIRKS:
            raise StoreError(f"ignore must be one of {', '.join(QUIRKS)} or null")
        if refuse is not None and refuse not in REFUSALS:
            raise StoreError(f"refuse must be one of {', '.join(REFUSALS)} or null")
        if ignore is not None and refuse is not None:
            raise StoreError("a list either ignores or refuses its query parameters, not both")
        with self.lock:
            if ignore is None and refuse is None:
                self.quirks.pop(resource, None)
            else:
                self.quirks[resource] = ignore if ignore is not None else f"refuse_{refuse}"

    def refusal(self, resource: str, filters: list[str], sort: str | None) -> int | None:
        """The status ``resource``'s list refuses this query with (400 or 403), or None."""
        refusal = self.quirks.get(resource, "")
        asked = [*filters, *([sort] if sort else [])]
        if refusal == "refuse_access":
            return 403
        if refusal == "refuse_filter_and_sort" and asked:
            return 400
        if refusal == "refuse_updated_at" and any("updated_at" in part for part in asked):
            return 400
        return None

    def dedication(self, org_id: int, transaction_id: int) -> Row | None:
        """The dedication a transaction carries under ``with=dedication`` (None when it has none)."""
        with self.lock:
            rid = self.dedication_ids.get(org_id, {}).get(transaction_id)
            return self.get(org_id, "dedications", rid) if rid is not None else None

    def _index_dedications(self, org_id: int) -> None:
        coll = self._coll(org_id, "dedications")
        self.dedication_ids[org_id] = {
            coll.value(rec, "transaction_id"): rid for rid, rec in coll.recs.items()
        }

    # -- mutation --------------------------------------------------------------------------
    def update(self, org_id: int, resource: str, rid: int, changes: dict[str, Any]) -> Row | None:
        """Apply field changes; ``updated_at`` becomes now unless given explicitly (may be null)."""
        with self.lock:
            coll = self._coll(org_id, resource)
            rec = coll.recs.get(rid)
            if rec is None:
                return None
            row = coll.row(rec)
            items = changes.pop("items", None) if coll.item_fields is not None else None
            self._apply(coll, row, changes)
            coll.put(row, items)
            if resource == "dedications":
                self._index_dedications(org_id)
            self.webhooks.emit(org_id, resource, "updated", rid)
            return self.get(org_id, resource, rid)

    def _apply(self, coll: Collection, row: Row, changes: dict[str, Any]) -> None:
        unknown = [k for k in changes if k not in coll.pos or k == "id"]
        if unknown:
            raise StoreError(f"unknown or read-only field(s): {', '.join(unknown)}")
        explicit = "updated_at" in changes
        for k, v in changes.items():
            row[k] = self._normalize(coll, k, v)
        if not explicit:
            row["updated_at"] = format_ts(now_epoch())

    @staticmethod
    def _normalize(coll: Collection, name: str, value: Any) -> Any:
        if coll.kinds.get(name) == "ts" and isinstance(value, str):
            try:
                return format_ts(parse_filter_ts(value))
            except TimestampError as exc:
                raise StoreError(str(exc)) from exc
        return value

    def create(self, org_id: int, resource: str, fields: dict[str, Any]) -> Row:
        """Insert a realistic new record (new id, created_at = updated_at = now), then apply ``fields``."""
        with self.lock:
            coll = self._coll(org_id, resource)
            row, items = self._generate(org_id, resource, now_epoch(), fields)
            dedication = None
            if resource == "transactions":
                camp = self.get(org_id, "campaigns", row["campaign_id"]) or {"id": 0, "type": ""}
                dedication = self.generators[org_id].fundraising.decorate(row, items or [], camp, False)
            given = {k: v for k, v in fields.items() if k != "items"}
            self._apply(coll, row, given)
            coll.put(row, fields.get("items", items))
            if dedication is not None:
                self._coll(org_id, "dedications").put(dedication)
            if resource in ("transactions", "dedications"):
                self._index_dedications(org_id)
            self.webhooks.emit(org_id, resource, "created", row["id"])
            return self.get(org_id, resource, row["id"]) or row

    def _generate(
        self, org_id: int, resource: str, now: int, fields: dict[str, Any]
    ) -> tuple[Row, list[Row] | None]:
        """A realistic record; a given ``campaign_id`` picks its campaign, and an explicit
        ``"supporter_id": null`` makes a person of its own (a free registrant, a guest purchaser)."""
        gen = self.generators[org_id]
        supporter_id = fields.get("supporter_id")
        given_campaign = fields.get("campaign_id")
        camp = self.get(org_id, "campaigns", given_campaign) if isinstance(given_campaign, int) else None
        camp = camp or self._random_row(org_id, "campaigns")
        if resource == "campaigns":
            return gen.campaign(now, now), None
        if resource == "supporters":
            return gen.supporter(now, now, camp["id"] if camp else None), None
        made = self._generate_fundraising(org_id, resource, now, camp)
        if made is not None:
            return made, None
        row = self.get(org_id, "supporters", supporter_id) if isinstance(supporter_id, int) else None
        if row is None and "supporter_id" not in fields and self.rng.random() < 0.8:
            row = self._random_row(org_id, "supporters")
        sup = sup_ref(row) if row is not None else None
        if camp is None:
            camp = gen.campaign(now, now)
        if resource == "transactions":
            return gen.transaction(
                supporter=sup, plan=None, campaign=camp, created=now, updated=now, status="success"
            )
        if resource == "recurring-donation-plans":
            sup = sup or sup_ref(gen.supporter(now, now, camp["id"]))
            return gen.plan(sup, camp, now, now), None
        return gen.registration(
            campaign=camp,
            created=now,
            updated=now,
            supporter=sup,
            transaction=None,
            items=None,
            minimal=sup is None and not camp.get("is_billing_address_required"),
        ), None

    def _generate_fundraising(self, org_id: int, resource: str, now: int, camp: Row | None) -> Row | None:
        fundraising = self.generators[org_id].fundraising
        if camp is None:
            camp = self.generators[org_id].campaign(now, now)
        if resource == "designations":
            return fundraising.designation(self.ids.take("designations"), f"Fund {now}", now)
        if resource == "fundraising-teams":
            return fundraising.team(camp, now)
        if resource == "fundraising-pages":
            return fundraising.page(camp, self._random_row(org_id, "fundraising-teams"), None, now)
        if resource == "dedications":
            txn = self._random_row(org_id, "transactions")
            return fundraising.dedication(txn or {"id": 0, "created_at": format_ts(now)})
        return None

    def _random_row(self, org_id: int, resource: str) -> Row | None:
        coll = self._coll(org_id, resource)
        if not coll.ids:
            return None
        return coll.row(coll.recs[coll.ids[self.rng.randrange(len(coll.ids))]])

    def delete(self, org_id: int, resource: str, rid: int) -> bool:
        """Remove a record from every list (Classy keeps no tombstone); ``restore`` can bring it back."""
        with self.lock:
            coll = self._coll(org_id, resource)
            rec = coll.recs.get(rid)
            if rec is None:
                return False
            items = coll.item_rows(rec) if coll.item_fields is not None else None
            self.deleted[(org_id, resource, rid)] = (coll.row(rec), items)
            deleted = coll.delete(rid)
            if resource == "dedications":
                self._index_dedications(org_id)
            return deleted

    def restore(self, org_id: int, resource: str, rid: int, *, touch_updated_at: bool = False) -> Row | None:
        """Bring a deleted record back as it was (``updated_at`` unchanged unless ``touch_updated_at``)."""
        with self.lock:
            kept = self.deleted.pop((org_id, resource, rid), None)
            if kept is None:
                return None
            row, items = kept
            if touch_updated_at:
                row["updated_at"] = format_ts(now_epoch())
            self._coll(org_id, resource).put(row, items)
            return self.get(org_id, resource, rid)

    def find_org(self, resource: str, rid: int) -> int | None:
        """The organization holding a record (the data API's by-id paths name no organization)."""
        with self.lock:
            for org_id, colls in self.data.items():
                if rid in colls[resource].recs:
                    return org_id
            return None

    def refund(
        self, org_id: int, rid: int, at: str | None = None, *, touch_updated_at: bool = True
    ) -> Row | None:
        """Mark a transaction refunded: status and refunded_at (now unless ``at``); ``updated_at`` moves
        to the same time unless ``touch_updated_at`` is false (Classy does not confirm that it moves)."""
        stamp = format_ts(parse_filter_ts(at)) if at else format_ts(now_epoch())
        changes: dict[str, Any] = {"status": "refunded", "refunded_at": stamp}
        if touch_updated_at:
            changes["updated_at"] = stamp
        else:
            with self.lock:
                current = self.get(org_id, "transactions", rid)
            if current is None:
                return None
            changes["updated_at"] = current.get("updated_at")
        return self.update(org_id, "transactions", rid, changes)

    def churn(self, org_id: int, resource: str, updates: int, inserts: int) -> dict[str, list[int]]:
        """Random realistic updates of existing records and inserts of new ones."""
        with self.lock:
            coll = self._coll(org_id, resource)
            updated: list[int] = []
            for _ in range(min(updates, len(coll.ids))):
                rid = coll.ids[self.rng.randrange(len(coll.ids))]
                self.update(org_id, resource, rid, self._random_change(resource, coll.recs[rid], coll))
                updated.append(rid)
            inserted = [self.create(org_id, resource, {})["id"] for _ in range(inserts)]
            return {"updated": updated, "inserted": inserted}

    def _random_change(self, resource: str, rec: Rec, coll: Collection) -> dict[str, Any]:
        r = self.rng
        if resource == "supporters":
            return r.choice(
                (
                    {"opt_in": r.random() < 0.5},
                    {"phone": f"{r.randint(201, 989)}-555-0{r.randint(100, 999)}"},
                    {"nickname": r.choice(("Bob", "Liz", "Sam", None))},
                )
            )
        if resource == "transactions":
            status = coll.value(rec, "status")
            if status == "success" and r.random() < 0.3:
                return {"status": "refunded", "refunded_at": format_ts(now_epoch())}
            if status == "pending":
                return {"status": "success"}
            return {"comment": r.choice(("Updated by admin", "Receipt resent", None))}
        if resource == "registrations":
            return {"status": r.choice(("attending", "not_attending", "archived"))}
        if resource == "recurring-donation-plans":
            return {
                "status": r.choice(("active", "canceled", "paused")),
                "donation_amount": float(r.choice((10, 25, 50))),
            }
        return {"goal": float(r.choice((10000, 20000, 75000)))}

    def summary(self) -> dict[str, Any]:
        with self.lock:
            return {
                "organizations": [
                    {
                        "id": oid,
                        "name": org["name"],
                        "counts": {res: len(c) for res, c in self.data[oid].items()},
                    }
                    for oid, org in self.orgs.items()
                ],
                "apps": [a.public() for a in self.auth.apps.values()],
                "members": [
                    {"username": m.username, "password": m.password} for m in self.auth.members.values()
                ],
                "token_lifetime": self.auth.token_lifetime,
                "rate_limit": self.rate.limit,
                "seed": self.config.seed,
            }
