"""The raw-ASGI front of the sandbox: injected faults, rate-limit headers, the request log.

It runs before FastAPI's own middleware so that a ``drop``/``reset`` fault can reach uvicorn's transport
(``send.__self__.transport``) and close the connection without any response, the way a proxy failing
mid-flight looks to a client (httpx raises ``RemoteProtocolError`` / ``ReadError``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.hostile import answer as hostile_answer
from sandbox.store import SandboxStore
from sandbox.traffic import FaultRule, RateState

_FAULT_BODIES = {
    "429": (429, {"message": "Too Many Attempts."}),
    "503": (503, {"message": "Service Unavailable"}),
    "500": (500, {"error": "Internal Server Error"}),
    "404": (404, {"error": "The resource cannot be found"}),
}


def rate_headers(state: RateState) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-ratelimit-limit", str(state.limit).encode()),
        (b"x-ratelimit-remaining", str(state.remaining).encode()),
    ]
    if state.retry_after is not None:
        headers.append((b"retry-after", str(state.retry_after).encode()))
        headers.append((b"x-ratelimit-reset", str(state.reset_at).encode()))
    return headers


async def gate(app: ASGIApp, store: SandboxStore, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve one HTTP request through faults, headers and logging."""
    started = time.time()
    ctx: dict[str, Any] = scope.setdefault("sandbox", {})
    status = {"code": 0}
    with store.lock:
        latency, rule = store.faults.pick(scope["path"])
        switch = store.hostile.take(scope["path"])
    if switch is not None:
        ctx["fault"] = f"hostile:{switch.kind}"
        _log(store, scope, ctx, await hostile_answer(switch, send), started)
        return
    if latency:
        await asyncio.sleep(latency)
    if rule is not None:
        ctx["fault"] = rule.kind
        if rule.kind in ("drop", "reset"):
            await _drop(send, abort=rule.kind == "reset")
            _log(store, scope, ctx, "dropped", started)
            return
        await _fault_response(store, rule, ctx, send, status)
        _log(store, scope, ctx, status["code"], started)
        return

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            status["code"] = message["status"]
            state = ctx.get("rate")
            if state is None:
                with store.lock:
                    state = store.rate.peek(ctx.get("app"))
            message["headers"] = [*message.get("headers", ()), *rate_headers(state)]
        await send(message)

    try:
        await app(scope, receive, send_with_headers)
    finally:
        _log(store, scope, ctx, status["code"] or 500, started)


async def _fault_response(
    store: SandboxStore, rule: FaultRule, ctx: dict[str, Any], send: Send, status: dict[str, int]
) -> None:
    code, base = _FAULT_BODIES[rule.kind]
    body: dict[str, Any] = dict(base)
    with store.lock:
        state = store.rate.peek(ctx.get("app"))
    if code in (429, 503):
        if code == 429:
            body["retry_after"] = rule.retry_after
        state = RateState(
            state.limit,
            0 if code == 429 else state.remaining,
            int(time.time()) + rule.retry_after,
            rule.retry_after,
        )
    payload = orjson.dumps(body)
    status["code"] = code
    await send(
        {
            "type": "http.response.start",
            "status": code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *rate_headers(state),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def _drop(send: Send, abort: bool) -> None:
    """Close the client connection without a response (FIN, or RST when ``abort``)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionAbortedError("sandbox fault: connection dropped")
    if abort:
        transport.abort()
    else:
        transport.close()
    for _ in range(10):  # let uvicorn notice the loss so it does not try to answer 500
        if getattr(cycle, "disconnected", True):
            break
        await asyncio.sleep(0)


def _log(store: SandboxStore, scope: Scope, ctx: dict[str, Any], status: int | str, started: float) -> None:
    entry = {
        "method": scope["method"],
        "path": scope["path"],
        "query": scope.get("query_string", b"").decode("latin-1"),
        "status": status,
        "time": started,
        "duration_ms": round((time.time() - started) * 1000, 3),
        "app": ctx.get("app"),
        "fault": ctx.get("fault"),
    }
    with store.lock:
        store.log.add(entry)
