"""Control API under ``/_sandbox`` (no auth). JSON in, JSON out.

State
- ``GET  /_sandbox/health`` → ``{"ok": true}``
- ``GET  /_sandbox/config`` → organizations (ids, names, counts), apps, members, token lifetime, rate limit
- ``POST /_sandbox/reset`` → rebuild data, apps, tokens, faults, log and counters from the startup config

Records (``{resource}`` ∈ supporters, transactions, registrations, recurring-donation-plans, campaigns)
- ``GET    /_sandbox/organizations/{id}/{resource}/all`` → every record in id order (transactions with items)
- ``GET    /_sandbox/organizations/{id}/{resource}/{rid}`` → one record
- ``POST   /_sandbox/organizations/{id}/{resource}`` body: fields → create (new id, created_at = updated_at
  = now, realistic defaults for fields not given; transactions may pass ``items``)
- ``POST   /_sandbox/organizations/{id}/{resource}/{rid}`` body: fields → update; ``updated_at`` is bumped to
  now unless the body sets it explicitly (a timestamp or null, e.g. to simulate late visibility)
- ``DELETE /_sandbox/organizations/{id}/{resource}/{rid}`` → delete: the record leaves every list (Classy has
  no deletion feed); it is kept aside for a restore
- ``POST   /_sandbox/organizations/{id}/{resource}/{rid}/restore`` body ``{"touch_updated_at"?: false}`` →
  the deleted record is back as it was (``updated_at`` unchanged unless asked)
- ``POST   /_sandbox/organizations/{id}/transactions/{rid}/refund`` body ``{"refunded_at"?: ts,
  "touch_updated_at"?: true}``: ``false`` refunds without moving ``updated_at``
- ``POST   /_sandbox/organizations/{id}/churn`` body
  ``{"resource": "supporters", "updates": n, "inserts": m}``

Quirks (off by default; cleared by reset)
- ``POST /_sandbox/quirks`` ``{"resource": "registrations", "ignore": "filter_and_sort"|"sort"|null}`` → that
  list (in every organization) ignores ``filter`` and ``sort``, or only ``sort``, answering in id order;
  ``{"resource": …, "refuse": "updated_at"|"filter_and_sort"|"access"}`` → it answers 400 to a
  ``filter`` or ``sort`` naming ``updated_at``, or to any ``filter`` or ``sort``, or 403 to any request
  of that list; neither given makes it honour them again. ``GET /_sandbox/quirks`` lists them.

Auth
- ``POST /_sandbox/token-lifetime`` ``{"seconds": n}`` (new tokens only)
- ``POST /_sandbox/tokens/revoke`` ``{"client_id"?: id}`` → existing access and refresh tokens stop working
- ``GET  /_sandbox/apps``; ``POST /_sandbox/apps`` ``{"client_id", "client_secret", "organization_ids",
  "redirect_uris"}`` create or replace; ``POST /_sandbox/apps/{client_id}`` partial update (e.g. a new
  ``client_secret``; ``"revoke_tokens": true`` also revokes); ``DELETE /_sandbox/apps/{client_id}``

Webhooks (Svix-style, see ``webhooks.py``): every create/update of a supporter, transaction or recurring
plan is delivered, signed, to each endpoint of its organization, with bounded retries
- ``POST   /_sandbox/webhooks`` ``{"url", "secret"?: "whsec_…", "organization_ids"?: [...]}`` → the endpoint
  (with its ``secret``; a new one is made when none is given)
- ``GET    /_sandbox/webhooks`` → ``{"endpoints": [...], "deliveries": [...]}`` (each attempt, newest last)
- ``DELETE /_sandbox/webhooks/{id}``; ``DELETE /_sandbox/webhooks`` removes every endpoint
- ``POST   /_sandbox/webhooks/{id}/messages`` ``{"type", "data"?}`` → sends one message of any type

Traffic
- ``POST /_sandbox/rate-limit`` ``{"requests_per_minute": n}`` (0 = unlimited; resets the windows)
- ``POST /_sandbox/faults`` ``{"kind": "429"|"503"|"500"|"404"|"drop"|"reset"|"latency", "rate"?: p,
  "count"?: n, "latency_ms"?: ms, "retry_after"?: s, "path_prefix"?: "/2.0/"}`` — with ``rate`` each
  matching request faults with probability p (seeded RNG); with ``count`` only the next n matching
  requests (or at most n when both are given). ``GET`` lists rules; ``DELETE`` clears them.
- ``GET /_sandbox/requests?limit=n`` → ``{"requests": [...], "by_status": {...}, "rate_limited": n (all
  429s), "rate_limit_rejections": n (by the RPM limiter), "faults_injected": n}``;
  ``DELETE /_sandbox/requests`` clears the log and counters.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Body, Request
from pydantic import BaseModel
from starlette.responses import Response

from sandbox.auth import AppReg
from sandbox.schema import RESOURCES
from sandbox.store import SandboxStore, StoreError
from sandbox.traffic import FaultRule
from sandbox.webhooks import new_secret

router = APIRouter(prefix="/_sandbox")


class FaultIn(BaseModel):
    kind: str
    rate: float | None = None
    count: int | None = None
    latency_ms: int = 0
    retry_after: int = 1
    path_prefix: str = "/2.0/"


class AppIn(BaseModel):
    client_id: str
    client_secret: str
    organization_ids: list[int] = []
    redirect_uris: list[str] = []


class AppPatch(BaseModel):
    client_secret: str | None = None
    organization_ids: list[int] | None = None
    redirect_uris: list[str] | None = None
    revoke_tokens: bool = False


class QuirkIn(BaseModel):
    resource: str
    ignore: str | None = None
    refuse: str | None = None


class WebhookIn(BaseModel):
    url: str
    secret: str | None = None
    organization_ids: list[int] | None = None


class MessageIn(BaseModel):
    type: str
    data: dict[str, Any] = {}


class ChurnIn(BaseModel):
    resource: str = "supporters"
    updates: int = 10
    inserts: int = 0


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _store(request: Request) -> SandboxStore:
    store: SandboxStore = request.app.state.store
    return store


def _check(store: SandboxStore, org_id: int, resource: str) -> Response | None:
    if org_id not in store.orgs or resource not in RESOURCES:
        return _json({"error": "unknown organization or resource"}, 404)
    return None


@router.get("/health")
async def health() -> Response:
    """Liveness."""
    return _json({"ok": True})


@router.get("/config")
async def config(request: Request) -> Response:
    """Organizations, apps, members and settings."""
    return _json(_store(request).summary())


@router.post("/reset")
async def reset(request: Request) -> Response:
    """Rebuild everything from the startup config."""
    _store(request).reset()
    return _json({"ok": True})


@router.get("/organizations/{org_id}/{resource}/all")
async def dump(request: Request, org_id: int, resource: str) -> Response:
    """Every record of a resource (the current truth)."""
    store = _store(request)
    return _check(store, org_id, resource) or _json(store.dump(org_id, resource))


@router.get("/organizations/{org_id}/{resource}/{rid}")
async def get_record(request: Request, org_id: int, resource: str, rid: int) -> Response:
    """One record."""
    store = _store(request)
    bad = _check(store, org_id, resource)
    row = None if bad else store.get(org_id, resource, rid)
    return bad or (_json(row) if row is not None else _json({"error": "not found"}, 404))


@router.post("/organizations/{org_id}/churn")
async def churn(request: Request, org_id: int, body: ChurnIn) -> Response:
    """Random updates and inserts."""
    store = _store(request)
    return _check(store, org_id, body.resource) or _json(
        store.churn(org_id, body.resource, body.updates, body.inserts)
    )


@router.post("/organizations/{org_id}/transactions/{rid}/refund")
async def refund(
    request: Request, org_id: int, rid: int, body: dict[str, Any] | None = Body(None)
) -> Response:
    """Refund a transaction."""
    store = _store(request)
    given = body or {}
    try:
        row = store.refund(
            org_id, rid, given.get("refunded_at"), touch_updated_at=bool(given.get("touch_updated_at", True))
        )
    except (StoreError, ValueError) as exc:
        return _json({"error": str(exc)}, 400)
    return _json(row) if row is not None else _json({"error": "not found"}, 404)


@router.post("/organizations/{org_id}/{resource}/{rid}/restore")
async def restore_record(
    request: Request, org_id: int, resource: str, rid: int, body: dict[str, Any] | None = Body(None)
) -> Response:
    """Bring a deleted record back."""
    store = _store(request)
    bad = _check(store, org_id, resource)
    if bad:
        return bad
    row = store.restore(org_id, resource, rid, touch_updated_at=bool((body or {}).get("touch_updated_at")))
    return _json(row) if row is not None else _json({"error": "no deleted record with that id"}, 404)


@router.post("/organizations/{org_id}/{resource}")
async def create_record(
    request: Request, org_id: int, resource: str, body: dict[str, Any] | None = Body(None)
) -> Response:
    """Create a record."""
    store = _store(request)
    bad = _check(store, org_id, resource)
    if bad:
        return bad
    try:
        return _json(store.create(org_id, resource, dict(body or {})), 201)
    except StoreError as exc:
        return _json({"error": str(exc)}, 400)


@router.post("/organizations/{org_id}/{resource}/{rid}")
async def update_record(
    request: Request, org_id: int, resource: str, rid: int, body: dict[str, Any] = Body(...)
) -> Response:
    """Update fields of a record (bumps updated_at)."""
    store = _store(request)
    bad = _check(store, org_id, resource)
    if bad:
        return bad
    try:
        row = store.update(org_id, resource, rid, dict(body))
    except StoreError as exc:
        return _json({"error": str(exc)}, 400)
    return _json(row) if row is not None else _json({"error": "not found"}, 404)


@router.delete("/organizations/{org_id}/{resource}/{rid}")
async def delete_record(request: Request, org_id: int, resource: str, rid: int) -> Response:
    """Delete a record."""
    store = _store(request)
    bad = _check(store, org_id, resource)
    return bad or _json({"deleted": store.delete(org_id, resource, rid)})


@router.get("/quirks")
async def list_quirks(request: Request) -> Response:
    """The lists that ignore query parameters, and which."""
    store = _store(request)
    with store.lock:
        return _json(dict(store.quirks))


@router.post("/quirks")
async def set_quirk(request: Request, body: QuirkIn) -> Response:
    """Make a list ignore or refuse ``filter`` and ``sort`` (or only ``sort``), or honour them again."""
    store = _store(request)
    try:
        store.set_quirk(body.resource, body.ignore, body.refuse)
    except StoreError as exc:
        return _json({"error": str(exc)}, 400)
    with store.lock:
        return _json(dict(store.quirks))


@router.post("/token-lifetime")
async def token_lifetime(request: Request, body: dict[str, int] = Body(...)) -> Response:
    """Lifetime (seconds) of tokens issued from now on."""
    store = _store(request)
    with store.lock:
        store.auth.token_lifetime = int(body["seconds"])
    return _json({"token_lifetime": store.auth.token_lifetime})


@router.post("/tokens/revoke")
async def revoke(request: Request, body: dict[str, str] | None = Body(None)) -> Response:
    """Revoke tokens (all, or one app's)."""
    store = _store(request)
    with store.lock:
        return _json({"revoked": store.auth.revoke((body or {}).get("client_id"))})


@router.get("/apps")
async def list_apps(request: Request) -> Response:
    """Registered apps."""
    store = _store(request)
    return _json([a.public() for a in store.auth.apps.values()])


@router.post("/apps")
async def put_app(request: Request, body: AppIn) -> Response:
    """Create or replace an app."""
    store = _store(request)
    with store.lock:
        reg = AppReg(body.client_id, body.client_secret, set(body.organization_ids), list(body.redirect_uris))
        store.auth.apps[body.client_id] = reg
    return _json(reg.public(), 201)


@router.post("/apps/{client_id}")
async def patch_app(request: Request, client_id: str, body: AppPatch) -> Response:
    """Change an app's secret, organizations or redirect URIs."""
    store = _store(request)
    with store.lock:
        reg = store.auth.apps.get(client_id)
        if reg is None:
            return _json({"error": "unknown app"}, 404)
        if body.client_secret is not None:
            reg.client_secret = body.client_secret
        if body.organization_ids is not None:
            reg.organization_ids = set(body.organization_ids)
        if body.redirect_uris is not None:
            reg.redirect_uris = list(body.redirect_uris)
        if body.revoke_tokens:
            store.auth.revoke(client_id)
        return _json(reg.public())


@router.delete("/apps/{client_id}")
async def delete_app(request: Request, client_id: str) -> Response:
    """Remove an app (its tokens stop working)."""
    store = _store(request)
    with store.lock:
        return _json({"deleted": store.auth.apps.pop(client_id, None) is not None})


@router.post("/rate-limit")
async def rate_limit(request: Request, body: dict[str, int] = Body(...)) -> Response:
    """Requests per minute per app (0 = unlimited)."""
    store = _store(request)
    with store.lock:
        store.rate.configure(int(body["requests_per_minute"]))
    return _json({"requests_per_minute": store.rate.limit})


@router.get("/faults")
async def list_faults(request: Request) -> Response:
    """Active fault rules."""
    store = _store(request)
    with store.lock:
        return _json({"rules": [r.public() for r in store.faults.rules], "injected": store.faults.injected})


@router.post("/faults")
async def add_fault(request: Request, body: FaultIn) -> Response:
    """Add a fault rule."""
    store = _store(request)
    rule = FaultRule(**body.model_dump())
    try:
        with store.lock:
            store.faults.add(rule)
    except ValueError as exc:
        return _json({"error": str(exc)}, 400)
    return _json(rule.public(), 201)


@router.delete("/faults")
async def clear_faults(request: Request) -> Response:
    """Remove every fault rule."""
    store = _store(request)
    with store.lock:
        store.faults.rules.clear()
    return _json({"ok": True})


@router.get("/requests")
async def requests_log(request: Request, limit: int = 1000) -> Response:
    """The request log, newest last."""
    store = _store(request)
    with store.lock:
        entries = list(store.log.entries)[-limit:] if limit > 0 else []
        return _json(
            {
                "requests": entries,
                "by_status": dict(store.log.by_status),
                "rate_limited": store.log.by_status.get("429", 0),
                "rate_limit_rejections": store.rate.rejected,
                "faults_injected": store.faults.injected,
            }
        )


@router.delete("/requests")
async def clear_requests(request: Request) -> Response:
    """Clear the request log and its counters."""
    store = _store(request)
    with store.lock:
        store.log.clear()
        store.rate.rejected = 0
        store.faults.injected = 0
    return _json({"ok": True})


@router.post("/webhooks")
async def add_webhook(request: Request, body: WebhookIn) -> Response:
    """Register an endpoint; every later mutation of its organizations is delivered to it."""
    endpoint = _store(request).webhooks.register(body.url, body.secret or new_secret(), body.organization_ids)
    return _json({**endpoint.public(), "secret": endpoint.secret}, 201)


@router.get("/webhooks")
async def list_webhooks(request: Request) -> Response:
    """Endpoints with their counters, and the delivery attempts (newest last)."""
    hooks = _store(request).webhooks
    with hooks.lock:
        return _json(
            {"endpoints": [e.public() for e in hooks.endpoints.values()], "deliveries": list(hooks.log)}
        )


@router.delete("/webhooks")
async def clear_webhooks(request: Request) -> Response:
    """Remove every endpoint."""
    _store(request).webhooks.clear()
    return _json({"ok": True})


@router.delete("/webhooks/{endpoint_id}")
async def delete_webhook(request: Request, endpoint_id: str) -> Response:
    """Remove one endpoint."""
    return _json({"deleted": _store(request).webhooks.remove(endpoint_id)})


@router.post("/webhooks/{endpoint_id}/messages")
async def send_message(request: Request, endpoint_id: str, body: MessageIn) -> Response:
    """Send one message of any type to an endpoint (signed, retried like the others)."""
    hooks = _store(request).webhooks
    with hooks.lock:
        endpoint = hooks.endpoints.get(endpoint_id)
    if endpoint is None:
        return _json({"error": "unknown webhook endpoint"}, 404)
    return _json({"message_id": hooks.send(endpoint, body.type, body.data)}, 202)
