"""App Directory, the Classy integration's status, its lifecycle and its history (API.md §3).

Route names read as `<verb>_classy…`: with the tag they make the operation ids of generated clients
(`apps_get_classy`, `apps_save_classy_credentials`, see `app.api.openapi`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from app.api.deps import AdminDep, LifecycleDep, PrincipalDep, RuntimeDep, SessionDep
from app.api.pagination import Cursor, Limit, build_page, decode_cursor
from app.api.schemas import (
    AppSummary,
    CredentialsIn,
    EventPage,
    IntegrationRead,
    SyncRequested,
    SyncRequestIn,
    SyncRunPage,
    error_responses,
)
from app.runtime import Runtime
from app.security.tokens import Principal
from app.services import history, lifecycle
from app.services.lifecycle import CredentialsInput, IntegrationView
from app.services.transitions import Actor

router = APIRouter(prefix="/api/v1/apps", tags=["apps"])

READ_ERRORS = error_responses(401)
WRITE_ERRORS = error_responses(401, 403, 409)
VERIFY_ERRORS = error_responses(400, 401, 403, 409, 422, 429, 502)
PAGE_ERRORS = error_responses(401, 422)
SYNC_ERRORS = error_responses(400, 401, 403, 409, 422)


def _read(runtime: Runtime, view: IntegrationView) -> IntegrationRead:
    settings = runtime.settings
    return IntegrationRead.from_view(
        view, redirect_uri=settings.redirect_uri, auth_flow=settings.classy_auth_flow
    )


def _actor(principal: Principal) -> Actor:
    return Actor(principal.sub, principal.name)


def _form(body: CredentialsIn) -> CredentialsInput:
    assert isinstance(body.organization_id, int)  # the validator has converted it
    return CredentialsInput(body.client_id, body.client_secret, body.organization_id)


@router.get("", response_model=list[AppSummary], responses=READ_ERRORS)
async def list_apps(principal: PrincipalDep, session: SessionDep) -> list[AppSummary]:
    """The App Directory: every app with its status for the caller's account."""
    return [AppSummary.from_view(await lifecycle.get_view(session, account=principal.account))]


@router.get("/classy", response_model=IntegrationRead, responses=READ_ERRORS)
async def get_classy(principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep) -> IntegrationRead:
    """The account's Classy integration (status, who/when, sync state); never secrets."""
    include = runtime.settings.scheduler_enabled  # a requested sync is about to run here
    view = await lifecycle.get_view(session, account=principal.account, include_requested=include)
    return _read(runtime, view)


@router.post("/classy/connect", response_model=IntegrationRead, responses=WRITE_ERRORS)
async def connect_classy(
    admin: AdminDep, session: SessionDep, runtime: RuntimeDep, life: LifecycleDep
) -> IntegrationRead:
    """Start connecting: the integration waits for credentials and shows the redirect URI to register."""
    return _read(runtime, await lifecycle.connect(session, life, account=admin.account, actor=_actor(admin)))


@router.put("/classy/credentials", response_model=IntegrationRead, responses=VERIFY_ERRORS)
async def save_classy_credentials(
    body: CredentialsIn, admin: AdminDep, session: SessionDep, runtime: RuntimeDep, life: LifecycleDep
) -> IntegrationRead:
    """Save: check the credentials with Classy, store them encrypted, connect (or return authorize_url)."""
    view = await lifecycle.save_credentials(
        session, life, account=admin.account, actor=_actor(admin), form=_form(body)
    )
    return _read(runtime, view)


@router.post("/classy/pause", response_model=IntegrationRead, responses=WRITE_ERRORS)
async def pause_classy(
    admin: AdminDep, session: SessionDep, runtime: RuntimeDep, life: LifecycleDep
) -> IntegrationRead:
    """Pause syncing; credentials are kept."""
    return _read(runtime, await lifecycle.pause(session, life, account=admin.account, actor=_actor(admin)))


@router.post("/classy/resume", response_model=IntegrationRead, responses=WRITE_ERRORS)
async def resume_classy(
    admin: AdminDep, session: SessionDep, runtime: RuntimeDep, life: LifecycleDep
) -> IntegrationRead:
    """Resume; a sync of everything changed since the last successful one starts at once."""
    return _read(runtime, await lifecycle.resume(session, life, account=admin.account, actor=_actor(admin)))


@router.post("/classy/disconnect", response_model=IntegrationRead, responses=WRITE_ERRORS)
async def disconnect_classy(
    admin: AdminDep, session: SessionDep, runtime: RuntimeDep, life: LifecycleDep
) -> IntegrationRead:
    """Disconnect: stored secrets and tokens are erased; synced data stays."""
    return _read(
        runtime, await lifecycle.disconnect(session, life, account=admin.account, actor=_actor(admin))
    )


@router.post("/classy/reconnect", response_model=IntegrationRead, responses=VERIFY_ERRORS)
async def reconnect_classy(
    body: CredentialsIn, admin: AdminDep, session: SessionDep, runtime: RuntimeDep, life: LifecycleDep
) -> IntegrationRead:
    """Reconnect a disconnected integration with (re-checked) credentials."""
    view = await lifecycle.reconnect(
        session, life, account=admin.account, actor=_actor(admin), form=_form(body)
    )
    return _read(runtime, view)


@router.post("/classy/sync", response_model=SyncRequested, status_code=202, responses=SYNC_ERRORS)
async def sync_classy(
    admin: AdminDep,
    session: SessionDep,
    runtime: RuntimeDep,
    life: LifecycleDep,
    body: Annotated[SyncRequestIn | None, Body(examples=[{"mode": "reconcile"}])] = None,
) -> SyncRequested:
    """Start a sync now: incremental unless the body asks for `reconcile` or `full` (409 while one runs)."""
    mode = (body or SyncRequestIn()).mode
    view = await lifecycle.request_manual_sync(
        session, life, account=admin.account, actor=_actor(admin), mode=mode
    )
    read = _read(runtime, view)
    row = view.integration
    trigger = (row.sync_requested_trigger if row is not None else None) or "manual"
    return SyncRequested.model_validate({**read.model_dump(), "trigger": trigger, "mode": mode})


@router.get("/classy/sync-runs", response_model=SyncRunPage, responses=PAGE_ERRORS)
async def list_classy_sync_runs(
    principal: PrincipalDep, session: SessionDep, limit: Limit = 100, cursor: Cursor = None
) -> SyncRunPage:
    """Sync runs, newest first."""
    rows = await history.sync_runs(
        session, account=principal.account, before_id=decode_cursor(cursor), limit=limit + 1
    )
    page = build_page(rows, limit, key=lambda run: run.id)
    return SyncRunPage.build(page.items, page.next_cursor, await history.rejected_for(session, page.items))


@router.get("/classy/events", response_model=EventPage, responses=PAGE_ERRORS)
async def list_classy_events(
    principal: PrincipalDep, session: SessionDep, limit: Limit = 100, cursor: Cursor = None
) -> EventPage:
    """Audit events of the integration, newest first."""
    rows = await history.events(
        session, account=principal.account, before_id=decode_cursor(cursor), limit=limit + 1
    )
    page = build_page(rows, limit, key=lambda event: event.id)
    return EventPage.build(page.items, page.next_cursor)
