"""Per-request observability: a request id, latency and status metrics, for every response.

It wraps the whole application, outside Starlette's `ServerErrorMiddleware`, so the 500 (or 503)
that an unexpected error turns into is counted and carries `X-Request-ID` like any other response
(an `@app.middleware("http")` sits inside it and never saw them). Pure ASGI: bodies pass untouched.

The request id is the caller's own `X-Request-ID`, echoed as sent when it is printable ASCII of at most
`MAX_REQUEST_ID_LENGTH` characters (control and non-ASCII characters, which could forge a log line or
a header, are dropped and a longer one is cut), else a new random one; it is bound to every log line written
while the request is served and returned in the response header.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.logging import bind_log_context
from app.metrics import HTTP_LATENCY, HTTP_REQUESTS

MAX_REQUEST_ID_LENGTH = 200
_UNSAFE = re.compile(r"[^\x20-\x7e]")


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's id, stripped of anything that could forge a log line or header, and capped."""
    for name, value in headers:
        if name == b"x-request-id":
            cleaned = _UNSAFE.sub("", value.decode("latin-1"))[:MAX_REQUEST_ID_LENGTH].strip()
            if cleaned:
                return cleaned
    return uuid.uuid4().hex


class ObservabilityMiddleware:
    """Binds the request id, adds `X-Request-ID`, and records count and latency per route template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope.get("headers", []))
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500  # what the server sends if the application fails before answering
        responded = False
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            with bind_log_context(request_id=request_id):
                await self.app(scope, receive, send_with_id)
        except Exception:
            # Already answered (the error handler sent the 500 and logged the error, safely): the
            # server would only log the raw traceback again, message and all.
            if not responded:
                raise
        finally:
            route = _route_template(scope)
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            HTTP_LATENCY.labels(scope["method"], route).observe(time.perf_counter() - started)


def _route_template(scope: Scope) -> str:
    """The matched route's path template (`/api/v1/contacts/{id}`): bounded label values."""
    route: Any = scope.get("route")
    return str(getattr(route, "path", None) or "unmatched")


class ObservedFastAPI(FastAPI):
    """FastAPI whose middleware stack is wrapped by `ObservabilityMiddleware` (outermost)."""

    def build_middleware_stack(self) -> ASGIApp:
        return ObservabilityMiddleware(super().build_middleware_stack())
