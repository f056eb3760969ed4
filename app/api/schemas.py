"""Request and response bodies of the apps, lifecycle and history endpoints (names fixed by API.md §3)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.db.models import AuditEvent, IntegrationStatus, SyncRun
from app.services.lifecycle import IntegrationView
from app.services.transitions import APP_NAME, APP_SLUG

Badge = Literal["Connected", "Paused", "Disconnected", "Error"]
BADGES: dict[IntegrationStatus, Badge] = {
    IntegrationStatus.CONNECTED: "Connected",
    IntegrationStatus.PAUSED: "Paused",
    IntegrationStatus.DISCONNECTED: "Disconnected",
    IntegrationStatus.ERROR: "Error",
}
# Classy ids are positive integers; the bound keeps them inside a BIGINT with room to spare.
MAX_ORGANIZATION_ID = 10**15
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class FieldError(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """Every error: a sentence for people and a stable code for programs."""

    detail: str = Field(description="A sentence saying what went wrong.")
    code: str = Field(description="Machine-readable error code.")
    errors: list[FieldError] | None = Field(default=None, description="Per-field details (validation).")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for the error statuses a route can answer."""
    descriptions = {
        400: "The request body is not valid JSON",
        401: "Missing, invalid or expired bearer token",
        403: "The caller's role may not do this",
        404: "Not found",
        409: "Not possible in the integration's current state",
        422: "Invalid input, or credentials/organization rejected by Classy",
        429: "Too many credential checks for this account lately; wait Retry-After seconds",
        500: "Unexpected error (logged on our side)",
        502: "Classy could not be reached or failed",
    }
    return {status: {"model": ErrorBody, "description": descriptions[status]} for status in (*statuses, 500)}


class Readiness(BaseModel):
    """`/readyz`: each dependency's state; when not ready, also a sentence and a code like every error."""

    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unreachable"]
    scheduler: Literal["ok", "stopped"]
    detail: str | None = None
    code: str | None = None


class AppSummary(BaseModel):
    """A card of the App Directory."""

    slug: str
    name: str
    status: IntegrationStatus
    badge: Badge | None

    @classmethod
    def from_view(cls, view: IntegrationView) -> AppSummary:
        return cls(slug=APP_SLUG, name=APP_NAME, status=view.status, badge=BADGES.get(view.status))


class IntegrationRead(BaseModel):
    """The account's Classy integration; never carries the client secret or a token."""

    slug: str = APP_SLUG
    name: str = APP_NAME
    status: IntegrationStatus
    badge: Badge | None
    auth_flow: Literal["client_credentials", "authorization_code"]
    redirect_uri: str = Field(description="The OAuth2 redirect URI to register for the app in Classy.")
    authorize_url: str | None = Field(
        default=None, description="After Save in the authorization_code flow: where to send the browser."
    )
    organization_id: int | None
    client_id: str | None
    connected_by: str | None
    connected_by_name: str | None
    connected_at: datetime | None
    paused_by: str | None
    paused_by_name: str | None
    paused_at: datetime | None
    resumed_by: str | None
    resumed_by_name: str | None
    resumed_at: datetime | None
    disconnected_by: str | None
    disconnected_by_name: str | None
    disconnected_at: datetime | None
    last_synced_at: datetime | None
    last_reconciled_at: datetime | None = Field(
        default=None,
        description="End of the last reconcile (or full) run; the next is due an interval later.",
    )
    last_error: str | None
    next_sync_at: datetime | None
    sync_running: bool
    version: int = Field(description="Bumped by every lifecycle change.")

    @classmethod
    def from_view(cls, view: IntegrationView, *, redirect_uri: str, auth_flow: str) -> IntegrationRead:
        row = view.integration
        status = view.status
        values: dict[str, Any] = {
            "status": status,
            "badge": BADGES.get(status),
            "auth_flow": auth_flow,
            "redirect_uri": redirect_uri,
            "authorize_url": view.authorize_url,
            "sync_running": view.sync_running,
            "version": row.version if row is not None else 0,
        }
        for name in _ROW_FIELDS:
            values[name] = getattr(row, name) if row is not None else None
        if status not in (IntegrationStatus.CONNECTED, IntegrationStatus.ERROR):
            values["next_sync_at"] = None  # nothing is scheduled while paused, disconnected, …
        return cls.model_validate(values)


_ROW_FIELDS = (
    "organization_id",
    "client_id",
    "connected_by",
    "connected_by_name",
    "connected_at",
    "paused_by",
    "paused_by_name",
    "paused_at",
    "resumed_by",
    "resumed_by_name",
    "resumed_at",
    "disconnected_by",
    "disconnected_by_name",
    "disconnected_at",
    "last_synced_at",
    "last_reconciled_at",
    "last_error",
    "next_sync_at",
)


class CredentialsIn(BaseModel):
    """Save / Reconnect: what the admin copied from Classy's Apps & Integrations > API page."""

    model_config = ConfigDict(
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {"client_id": "a1b2c3d4e5", "client_secret": "s3cr3t-from-classy", "organization_id": 82364}
            ]
        },
    )

    client_id: str = Field(min_length=1, max_length=200)
    client_secret: str = Field(min_length=1, max_length=500, json_schema_extra={"writeOnly": True})
    organization_id: int | str = Field(
        description="Classy's Organization ID: an integer, or a string of digits.", examples=[82364]
    )

    @field_validator("client_id", "client_secret")
    @classmethod
    def _printable(cls, value: str) -> str:
        if _CONTROL.search(value):
            raise ValueError("must not contain control characters")
        return value

    @field_validator("organization_id", mode="before")
    @classmethod
    def _organization_id(cls, value: object) -> int:
        if isinstance(value, bool):
            raise ValueError("must be Classy's integer organization id")
        if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
            value = int(value.strip())
        if not isinstance(value, int) or not 0 < value < MAX_ORGANIZATION_ID:
            raise ValueError("must be Classy's organization id: a positive integer such as 82364")
        return value


class RejectedRead(BaseModel):
    """A record the run set aside (API.md section 4): which list, Classy's id if it had one, why."""

    stream: str
    classy_id: int | None
    reason: str


SyncMode = Literal["incremental", "reconcile", "full"]


class SyncRequestIn(BaseModel):
    """`POST …/sync` body (optional): which kind of run to start."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"mode": "reconcile"}, {"mode": "full"}]})

    mode: SyncMode = Field(
        default="incremental",
        description="incremental (changes since the last sync), reconcile (also marks what Classy no "
        "longer has and re-reads recent refunds) or full (the organization's whole history again).",
    )


class SyncRequested(IntegrationRead):
    """The integration after a sync request, with the requested run's trigger and mode."""

    trigger: str = Field(description="The trigger the run will carry: manual (or a pending lifecycle one).")
    mode: SyncMode


class SyncRunRead(BaseModel):
    """One sync run with its per-stream counts."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    trigger: str
    mode: str = Field(description="incremental, reconcile or full.")
    status: str
    organization_id: int | None
    started_at: datetime
    finished_at: datetime | None
    streams: dict[str, Any]
    error: str | None
    # The records it set aside, the first 100 (their count per stream is in `streams`).
    rejected: list[RejectedRead] = []


class SyncRunPage(BaseModel):
    items: list[SyncRunRead]
    next_cursor: str | None

    @classmethod
    def build(
        cls,
        items: list[SyncRun] | Any,
        next_cursor: str | None,
        rejected: dict[int, list[dict[str, Any]]] | None = None,
    ) -> SyncRunPage:
        runs = [SyncRunRead.model_validate(i) for i in items]
        for run in runs:
            run.rejected = [RejectedRead(**r) for r in (rejected or {}).get(run.id, [])]
        return cls(items=runs, next_cursor=next_cursor)


class EventRead(BaseModel):
    """One audit event: who did what, when (never secrets)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    action: str
    actor: str
    actor_name: str | None
    at: datetime
    details: dict[str, Any]


class EventPage(BaseModel):
    items: list[EventRead]
    next_cursor: str | None

    @classmethod
    def build(cls, items: list[AuditEvent] | Any, next_cursor: str | None) -> EventPage:
        return cls(items=[EventRead.model_validate(i) for i in items], next_cursor=next_cursor)
