"""The caller is checked before anything of the request is read (API.md §2).

Routes name their caller through dependencies (`PrincipalDep`, `AdminDep`), but FastAPI parses a
request's JSON body before it solves them, and the query guards run before routing: a caller with no
token who sent a broken body got a 400 about the body, and a member got a 400 instead of a 403. Here
every `/api/v1` request is refused first for a missing or invalid token (401), and every change (any
method but GET, HEAD and OPTIONS) for a member (403): every such route is an admin's (API.md §2:
"member may read"). The route's dependency takes the caller found here (the token is checked once).
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.deps import PRINCIPAL, authenticate, check_admin
from app.errors import AppError
from app.runtime import Runtime

API_PREFIX = "/api/v1"
READS = frozenset({"GET", "HEAD", "OPTIONS"})


class AuthGateMiddleware:
    """401 without a valid bearer token, 403 for a member's change: before the body or query is read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "") if scope["type"] == "http" else ""
        method: str = scope.get("method", "GET")
        if method == "OPTIONS" or not (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        runtime: Runtime = scope["app"].state.runtime
        scheme, token = _bearer(scope)
        try:
            principal = authenticate(runtime, scheme, token)
            if method not in READS:
                check_admin(principal)
        except AppError as exc:
            headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else {}
            body = {"detail": exc.detail, "code": exc.code}
            await JSONResponse(body, status_code=exc.status_code, headers=headers)(scope, receive, send)
            return
        scope.setdefault("state", {})[PRINCIPAL] = principal  # the route's dependency takes it from here
        await self.app(scope, receive, send)


def _bearer(scope: Scope) -> tuple[str | None, str | None]:
    """The Authorization header's scheme and credentials (None, None when there is none)."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            return scheme, token.strip() or None
    return None, None
