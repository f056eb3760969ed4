"""The Classy Login callback: the browser arrives here from Classy (no bearer token)."""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse

from app.api.deps import LifecycleDep, RuntimeDep, SessionDep
from app.api.schemas import error_responses
from app.services import lifecycle, oauth

logger = logging.getLogger(__name__)
router = APIRouter(tags=["oauth"])

# No length limit here: an over-long value must still end in a redirect (API.md), not a 422.
Param = Annotated[str | None, Query()]


@router.get(
    "/oauth/classy/callback",
    response_class=RedirectResponse,
    status_code=302,
    responses={
        302: {"description": "Back to FRONTEND_URL/apps/classy with ?connected=1 or ?error=<code>"},
        **error_responses(422),
    },
)
async def classy_callback(
    runtime: RuntimeDep,
    session: SessionDep,
    life: LifecycleDep,
    code: Param = None,
    state: Param = None,
    error: Param = None,
) -> RedirectResponse:
    """Complete the authorization-code flow, then send the browser back to the front-end."""
    try:
        await lifecycle.authorize(session, life, code=code, state=state, error=error)
        query = {"connected": "1"}
    except oauth.CallbackFailure as failure:
        query = {"error": failure.code}
    except Exception:
        # The browser must land back on the front-end whatever happened (API.md), never on a 500 page.
        logger.exception("the OAuth callback failed unexpectedly")
        query = {"error": "server_error"}
    # Always FRONTEND_URL from the configuration, never a target taken from the request.
    target = f"{runtime.settings.frontend_url}/apps/classy?{urlencode(query)}"
    return RedirectResponse(target, status_code=302, headers={"Cache-Control": "no-store"})
