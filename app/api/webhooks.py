"""Classy webhooks (API.md §3): the endpoint's settings, and `POST /webhooks/classy/<endpoint id>`.

A delivery is answered at once (Svix gives up on slow endpoints): checks, one short transaction, 204.
Its body is read with a cap and refused (413) as soon as it grows past it, before it is parsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import AdminDep, PrincipalDep, RuntimeDep, SessionDep
from app.api.schemas import ErrorBody, error_responses
from app.db.repositories import webhooks as repo
from app.metrics import WEBHOOK_DELIVERIES
from app.security.crypto import DecryptionError
from app.security.webhook_signatures import SignatureRejected, verify
from app.services import webhooks
from app.services.transitions import Actor
from app.services.webhooks import WebhookView

logger = logging.getLogger(__name__)

settings_router = APIRouter(prefix="/api/v1/apps", tags=["apps"])
delivery_router = APIRouter(tags=["webhooks"])


class WebhookSecretIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}]}
    )

    secret: str = Field(
        max_length=500,
        description="The signing secret Classy's webhook settings show (whsec_…); stored encrypted.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class WebhookRead(BaseModel):
    url: str = Field(description="Paste this into Classy (Apps & Integrations > Webhooks).")
    configured: bool = Field(description="Whether the signing secret is saved (deliveries are verified).")
    configured_at: datetime | None = Field(description="When the signing secret was saved; null before.")
    configured_by: str | None
    configured_by_name: str | None
    last_event_at: datetime | None = Field(description="When the last verified delivery arrived.")

    @classmethod
    def of(cls, view: WebhookView) -> WebhookRead:
        return cls(
            url=view.url,
            configured=view.configured_at is not None,
            configured_at=view.configured_at,
            configured_by=view.configured_by,
            configured_by_name=view.configured_by_name,
            last_event_at=view.last_event_at,
        )


@settings_router.put(
    "/classy/webhook", response_model=WebhookRead, responses=error_responses(400, 401, 403, 409, 422)
)
async def save_classy_webhook(
    body: WebhookSecretIn, admin: AdminDep, session: SessionDep, runtime: RuntimeDep
) -> WebhookRead:
    """Save the webhook signing secret; answers the URL to paste into Classy (the same URL as before)."""
    view = await webhooks.configure(
        session,
        runtime.encryptor,
        public_url=runtime.settings.public_url,
        account=admin.account,
        actor=Actor(admin.sub, admin.name),
        secret=body.secret.strip(),
    )
    return WebhookRead.of(view)


@settings_router.get("/classy/webhook", response_model=WebhookRead, responses=error_responses(401, 404))
async def get_classy_webhook(
    principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> WebhookRead:
    """The URL to paste into Classy (shown before the secret is saved), and when the last event arrived."""
    return WebhookRead.of(
        await webhooks.get(session, public_url=runtime.settings.public_url, account=principal.account)
    )


@settings_router.delete(
    "/classy/webhook", status_code=204, response_class=Response, responses=error_responses(401, 403, 404)
)
async def remove_classy_webhook(admin: AdminDep, session: SessionDep) -> Response:
    """Remove the webhook: its URL answers 404 from now on."""
    await webhooks.remove(session, account=admin.account, actor=Actor(admin.sub, admin.name))
    return Response(status_code=204)


def _reject(status: int, outcome: str, detail: str, code: str) -> JSONResponse:
    WEBHOOK_DELIVERIES.labels(outcome).inc()
    return JSONResponse({"detail": detail, "code": code}, status_code=status)


def _event_type(body: bytes) -> str | None:
    """The event's `type`, for the record only: the event is a hint whatever it holds."""
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        payload: Any = json.loads(body)
        if isinstance(payload, dict) and isinstance(payload.get("type"), str):
            return str(payload["type"])[:100]
    return None


EndpointId = Annotated[str, Path(description="The id at the end of the webhook URL.")]
DELIVERY_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing, forged or stale Svix signature"},
    404: {"model": ErrorBody, "description": "No such webhook endpoint"},
    413: {"model": ErrorBody, "description": "Body over 1 MB"},
    422: {"model": ErrorBody, "description": "Invalid input"},
}


@delivery_router.post(
    "/webhooks/classy/{endpoint_id}",
    status_code=204,
    response_class=Response,
    responses=DELIVERY_ERRORS,
)
async def deliver_classy_event(
    endpoint_id: EndpointId, request: Request, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """A Classy event, delivered by Svix: verified, then a hint that an incremental sync should run."""
    try:
        endpoint = (
            None
            if len(endpoint_id) > 100
            else await repo.open_endpoint(session, runtime.encryptor, endpoint_id)
        )
    except DecryptionError:
        logger.error("a webhook signing secret cannot be decrypted", extra={"endpoint": endpoint_id})
        endpoint = None
    await session.rollback()  # nothing is held while the body arrives
    if endpoint is None:
        return _reject(404, "unknown_endpoint", "No webhook endpoint with this id.", "not_found")
    if endpoint.secret is None:  # Svix retries: once the admin saves the secret, the retry is accepted
        detail = "No signing secret has been saved for this webhook yet, so deliveries cannot be verified."
        return _reject(401, "no_secret", detail, "webhook_not_configured")
    # At most 1 MB: the body limit (body_limit.py) refuses longer ones while they arrive, with a 413,
    # as for every request; a correctly signed delivery under it is answered 204 whatever its size.
    body = await request.body()
    try:
        message = verify(endpoint.secret, body, request.headers)
    except SignatureRejected as exc:
        return _reject(
            401, exc.reason, exc.sentence, "invalid_signature" if exc.reason != "stale" else "stale"
        )
    outcome = await webhooks.receive(
        session,
        integration_id=endpoint.integration_id,
        message_id=message.message_id,
        event_type=_event_type(body),
    )
    WEBHOOK_DELIVERIES.labels(outcome).inc()
    if outcome == webhooks.SYNC_REQUESTED:
        # The run is due after the debounce: wake this process's scheduler then (replicas: their tick).
        delay = webhooks.DEBOUNCE.total_seconds() + 0.05
        asyncio.get_running_loop().call_later(delay, runtime.scheduler.wake)
    return Response(status_code=204)
