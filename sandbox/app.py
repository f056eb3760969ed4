"""The Classy sandbox HTTP app: OAuth2 token and authorize endpoints, the 2.0 data API, control API.

Data API (``Authorization: Bearer <token>``):
- ``GET /2.0/organizations/{id}`` and ``GET /2.0/organizations/{id}/{resource}`` for ``supporters``,
  ``transactions``, ``registrations``, ``recurring-donation-plans``, ``campaigns``, ``designations``,
  ``fundraising-pages``, ``fundraising-teams``, ``dedications`` (also embedded by ``with=dedication`` on
  transactions); plus
  ``GET /2.0/apps/{client_id}/organizations`` and ``GET /2.0/me`` (member tokens).
- ``DELETE /2.0/supporters/{id}`` → ``200 {}`` (CLASSY_API.md 7.3); the supporter leaves every list.
- ``page`` (default 1; invalid → 1), ``per_page`` (default 20; invalid → 20; **above 100 is clamped to
  100**), ``filter``, ``sort``, ``with`` (transactions), ``fields``; see ``query.py`` for the grammar.
- Errors: 401 ``invalid_token``; 403 ``This action is unauthorized.`` with ``permissions`` when the token
  may not read that organization; 404 ``The resource cannot be found`` (unknown org, record or path);
  400 ``{"errors": [...]}`` for a bad query; 429 when the app is over its per-minute limit.
- Order of checks: token (401) → rate limit (429) → organization exists (404) → access (403) → query (400).

The control API lives under ``/_sandbox`` (see ``control.py``).

Performance (``python -m sandbox.bench``; 2-vCPU VM, server in a subprocess, one sequential httpx
client over loopback, 100-record transaction pages with ``with=items``, ~262 KiB each, sync query):
~270 pages/s on first read and ~610 pages/s re-reading (cached record JSON) when the client does not
parse; ~135-145 pages/s when the client also runs ``response.json()``, with the server spending ~2.6 ms
per page, i.e. the client is the limit. (Real Classy allows 1,800 requests/min = 30 pages/s per app.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from sandbox.auth import OAuthError
from sandbox.control import router as control_router
from sandbox.gate import gate
from sandbox.hostile import router as hostile_router
from sandbox.objects import install_objects
from sandbox.query import QueryError, parse_fields, parse_filter, parse_sort, parse_with
from sandbox.render import envelope, record_bytes, with_dedication
from sandbox.schema import ENTITY, ORGANIZATION_FIELDS, RESOURCES
from sandbox.store import SandboxStore

INVALID_TOKEN = {"error": "invalid_token", "error_description": "The access token is invalid or has expired"}
NOT_FOUND = {"error": "The resource cannot be found"}
MAX_PER_PAGE = 100


class ApiError(Exception):
    """An error response of the data API."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(body)
        self.status = status
        self.body = body
        self.headers = headers


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, headers=headers, media_type="application/json")


class SandboxApp(FastAPI):
    """FastAPI with the sandbox gate (faults, rate headers, request log) in front of everything."""

    sandbox_store: SandboxStore

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox"):
            await super().__call__(scope, receive, send)
            return
        await gate(super().__call__, self.sandbox_store, scope, receive, send)


def create_sandbox_app(store: SandboxStore) -> FastAPI:
    """Build the sandbox app serving ``store``."""
    app = SandboxApp(
        title="Classy sandbox",
        lifespan=_lifespan,
        docs_url="/_sandbox/docs",
        openapi_url="/_sandbox/openapi.json",
        redoc_url=None,
    )
    app.sandbox_store = store
    app.state.store = store
    app.include_router(control_router)
    app.include_router(hostile_router)
    _install_errors(app)
    _install_oauth(app, store)
    _install_data(app, store)
    install_objects(app, store, _gatekeep, ApiError)
    return app


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    store: SandboxStore = app.state.store
    task = (
        asyncio.create_task(_churn_loop(store), name="sandbox-churn") if store.config.churn_interval else None
    )
    try:
        yield
    finally:
        await asyncio.to_thread(store.webhooks.close)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _churn_loop(store: SandboxStore) -> None:
    interval = store.config.churn_interval or 5.0
    while True:
        await asyncio.sleep(interval)
        for org_id in list(store.orgs):
            for resource in ("supporters", "transactions"):
                store.churn(org_id, resource, store.config.churn_updates, store.config.churn_inserts)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return json_response(exc.body, exc.status, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return json_response(NOT_FOUND, 404)
        if exc.status_code == 405:
            return Response(status_code=405)
        return json_response({"error": str(exc.detail)}, exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return json_response({"errors": [str(e.get("msg")) for e in exc.errors()]}, 400)


def _install_oauth(app: FastAPI, store: SandboxStore) -> None:
    @app.post("/oauth2/auth", include_in_schema=False)
    async def token(request: Request) -> Response:
        """Issue tokens (form-encoded or JSON body)."""
        form = await _read_form(request)
        if form is None:
            return json_response({"errors": ["Malformed JSON payload."]}, 400)
        request.scope.setdefault("sandbox", {})["app"] = form.get("client_id") or None
        try:
            with store.lock:
                body = store.auth.grant(form)
        except OAuthError as exc:
            return json_response(exc.body, exc.status)
        return json_response(body, headers={"Cache-Control": "no-store"})

    @app.get("/authorize", include_in_schema=False)
    async def authorize(request: Request) -> Response:
        """Classy Login stand-in: approve at once and redirect with a one-time code."""
        try:
            with store.lock:
                url = store.auth.authorize(dict(request.query_params))
        except OAuthError as exc:
            return json_response(exc.body, exc.status)
        return RedirectResponse(url, status_code=302)


async def _read_form(request: Request) -> dict[str, str] | None:
    ctype = request.headers.get("content-type", "")
    if "json" in ctype:
        try:
            data = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError:
            return None
        if not isinstance(data, dict):
            return None
        return {str(k): "" if v is None else str(v) for k, v in data.items()}
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _gatekeep(store: SandboxStore, request: Request, org_id: str | None, entity: str) -> int | None:
    """Token, rate limit, organization and access checks; returns the org id (when given)."""
    with store.lock:
        token = store.auth.check(request.headers.get("authorization"))
        if token is None:
            raise ApiError(401, INVALID_TOKEN)
        ctx = request.scope.setdefault("sandbox", {})
        ctx["app"] = token.client_id
        state = ctx["rate"] = store.rate.hit(token.client_id)
        if state.limited:  # the gate adds Retry-After / X-RateLimit-* from ctx["rate"]
            raise ApiError(429, {"message": "Too Many Attempts.", "retry_after": state.retry_after})
        if org_id is None:
            return None
        oid = int(org_id) if org_id.isdigit() else -1
        if oid not in store.orgs:
            raise ApiError(404, NOT_FOUND)
        if not store.auth.can_read(token, oid):
            raise ApiError(
                403,
                {
                    "error": "This action is unauthorized.",
                    "permissions": [{"action": "fetch", "entity": entity}],
                },
            )
        ctx["token"] = token
        return oid


def _int_param(raw: str | None, default: int) -> int:
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        return default
    return value if value >= 1 else default


def _install_data(app: FastAPI, store: SandboxStore) -> None:
    @app.get("/2.0/organizations/{org_id}", include_in_schema=False)
    async def organization(request: Request, org_id: str) -> Response:
        """Retrieve an organization."""
        oid = _gatekeep(store, request, org_id, "organization")
        org = store.orgs[oid or 0]
        return json_response({f: org.get(f) for f in ORGANIZATION_FIELDS})

    @app.get("/2.0/apps/{client_id}/organizations", include_in_schema=False)
    async def app_organizations(request: Request, client_id: str) -> Response:
        """Organizations linked to an app (paginated)."""
        _gatekeep(store, request, None, "organization")
        reg = store.auth.apps.get(client_id)
        if reg is None:
            raise ApiError(404, NOT_FOUND)
        qp = request.query_params
        page, per_page = _int_param(qp.get("page"), 1), min(_int_param(qp.get("per_page"), 20), MAX_PER_PAGE)
        orgs = sorted(reg.organization_ids)
        chunk = orgs[(page - 1) * per_page : page * per_page]
        data = [orjson.dumps({f: store.orgs[o].get(f) for f in ORGANIZATION_FIELDS}) for o in chunk]
        return _page_response(request, page, per_page, len(orgs), data)

    @app.get("/2.0/me", include_in_schema=False)
    async def me(request: Request) -> Response:
        """The member behind a member token."""
        _gatekeep(store, request, None, "member")
        token = store.auth.check(request.headers.get("authorization"))
        if token is None or token.member is None:
            raise ApiError(
                403,
                {
                    "error": "This action is unauthorized.",
                    "permissions": [{"action": "fetch", "entity": "member"}],
                },
            )
        m = token.member
        return json_response(
            {"id": m.member_id, "email_address": m.username, "first_name": "Sandbox", "last_name": "Member"}
        )

    @app.delete("/2.0/supporters/{supporter_id}", include_in_schema=False)
    async def delete_supporter(request: Request, supporter_id: str) -> Response:
        """Delete a supporter (answers ``{}``, as Classy does)."""
        rid = int(supporter_id) if supporter_id.isdigit() else -1
        oid = store.find_org("supporters", rid)
        if oid is None:
            _gatekeep(store, request, None, "supporter")
            raise ApiError(404, NOT_FOUND)
        _gatekeep(store, request, str(oid), "supporter")
        store.delete(oid, "supporters", rid)
        return json_response({})

    @app.get("/2.0/organizations/{org_id}/{resource}", include_in_schema=False)
    async def list_records(request: Request, org_id: str, resource: str) -> Response:
        """A paginated, filterable, sortable org-scoped list."""
        if resource not in RESOURCES:
            raise ApiError(404, NOT_FOUND)
        oid = _gatekeep(store, request, org_id, ENTITY[resource]) or 0
        qp = request.query_params
        try:
            filters = qp.getlist("filter")
            conds = parse_filter(resource, ",".join(filters) if filters else None)
            sort = parse_sort(resource, qp.get("sort"))
            embeds = parse_with(resource, qp.get("with"))
            fields = parse_fields(resource, qp.get("fields"))
        except QueryError as exc:
            raise ApiError(400, {"errors": [str(exc)]}) from exc
        page, per_page = _int_param(qp.get("page"), 1), min(_int_param(qp.get("per_page"), 20), MAX_PER_PAGE)
        with store.lock:
            refused = store.refusal(resource, filters, qp.get("sort"))
            if refused == 403:
                forbidden = [{"action": "fetch", "entity": ENTITY[resource]}]
                raise ApiError(403, {"error": "This action is unauthorized.", "permissions": forbidden})
            if refused == 400:
                unsortable = f"This endpoint cannot be filtered or sorted that way: {resource}"
                raise ApiError(400, {"errors": [unsortable]})
            ignored = store.quirks.get(resource)
            conds = [] if ignored == "filter_and_sort" else conds
            sort = [] if ignored in ("filter_and_sort", "sort") else sort
            page, shown_page = store.hostile.page(page)
            coll = store.collection(oid, resource)
            assert coll is not None
            total, recs = coll.select(conds, sort, page, per_page)
            data = [
                store.hostile.render(
                    oid,
                    resource,
                    r.id,
                    _with_embeds(
                        store,
                        oid,
                        r.id,
                        embeds,
                        record_bytes(
                            coll,
                            r,
                            items="items" in embeds,
                            fields=fields,
                            embeds=_embeds(store, oid, coll, r, embeds),
                        ),
                    ),
                )
                for r in recs
            ]
        return _page_response(request, shown_page, per_page, total, data)


def _with_embeds(store: SandboxStore, oid: int, rid: int, wanted: frozenset[str], blob: bytes) -> bytes:
    """A transaction's dedication (``with=dedication``), spliced into its cached rendering."""
    return with_dedication(blob, store.dedication(oid, rid)) if "dedication" in wanted else blob


def _embeds(
    store: SandboxStore, oid: int, coll: Any, rec: Any, wanted: frozenset[str]
) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for name, resource, fk in (
        ("supporter", "supporters", "supporter_id"),
        ("recurring_donation_plan", "recurring-donation-plans", "recurring_donation_plan_id"),
    ):
        if name in wanted:
            rid = coll.value(rec, fk)
            target = store.collection(oid, resource)
            hit = target.recs.get(rid) if target is not None and rid is not None else None
            out[name] = target.row(hit) if target is not None and hit is not None else None
    return out or None


def _page_response(request: Request, page: int, per_page: int, total: int, data: list[bytes]) -> Response:
    path = str(request.base_url).rstrip("/") + request.url.path
    body = envelope(
        path=path,
        query=request.query_params.multi_items(),
        page=page,
        per_page=per_page,
        total=total,
        data=data,
    )
    return Response(body, media_type="application/json")
