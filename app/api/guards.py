"""Request guards that run before routing, for inputs no route can store or answer sensibly."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

_NUL_BODY = json.dumps(
    {"detail": "The query string must not contain NUL characters.", "code": "validation_error"}
).encode()


class RejectNulQueryMiddleware:
    """422 for `%00` in a query string: Postgres text cannot hold NUL, so no filter could match it.

    The OAuth callback is exempt: whatever arrives there must end in a redirect (API.md).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query: bytes = scope.get("query_string", b"") if scope["type"] == "http" else b""
        if (b"%00" in query or b"\x00" in query) and not scope.get("path", "").startswith("/oauth/"):
            await send(
                {
                    "type": "http.response.start",
                    "status": 422,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(_NUL_BODY)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": _NUL_BODY})
            return
        await self.app(scope, receive, send)
