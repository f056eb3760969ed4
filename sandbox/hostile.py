"""Hostile answers on demand, for testing that a client fails with a sentence rather than loops or crashes.

Switches (control API, ``/_sandbox/hostile``):

- ``{"kind": "ignore_page", "echo": bool}``: lists serve page 1 whatever ``page`` asks; ``current_page``
  says 1, or (``echo``) the page asked for, as a server that ignores the parameter silently would.
- ``{"kind": "headers", "status": 429, "headers": {"Retry-After": "inf"}, "count": n}``: the next n data
  requests (all, without ``count``) answer ``status`` with exactly these headers (values are sent as
  given: ``inf``, ``NaN``, ``1e400``) and a 429-style body. ``"path_prefix"`` (default ``/2.0/``, also
  for ``huge``) limits a switch to some paths, e.g. ``/2.0/supporters/`` with status 403.
- ``{"kind": "huge", "bytes": n, "chunked": bool, "count": n}``: 200 with a JSON body of about n bytes,
  announced by ``Content-Length`` or (``chunked``) streamed without one.

Odd records (``/_sandbox/organizations/{id}/{resource}/{rid}/render``): body ``{"set": {...},
"unset": ["id"], "literals": {"donation_gross_amount": "1e400"}}``. The record is stored and ordered as
before, but rendered with these changes: ``set`` values as JSON (strings may hold NUL characters),
``unset`` fields left out (a record without an ``id``), ``literals`` spliced in as raw JSON text
(``1e400``, ``NaN``, ``Infinity``: what no JSON encoder writes). ``DELETE`` the same path to restore.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import APIRouter, Body, Request
from starlette.responses import Response
from starlette.types import Send

from sandbox.schema import RESOURCES

router = APIRouter(prefix="/_sandbox")
HOSTILE_KINDS = ("ignore_page", "headers", "huge")


@dataclass
class Render:
    """How one record is rendered instead of its stored values."""

    set: dict[str, Any] = field(default_factory=dict)
    unset: list[str] = field(default_factory=list)
    literals: dict[str, str] = field(default_factory=dict)

    def apply(self, blob: bytes) -> bytes:
        row = orjson.loads(blob)
        for name in self.unset:
            row.pop(name, None)
        row.update(self.set)
        marks: dict[bytes, bytes] = {}
        for i, (name, text) in enumerate(self.literals.items()):
            marks[f'"__sandbox_literal_{i}__"'.encode()] = text.encode()
            row[name] = f"__sandbox_literal_{i}__"
        out = orjson.dumps(row)
        for mark, literal in marks.items():
            out = out.replace(mark, literal)
        return out


@dataclass
class Switch:
    kind: str
    echo: bool = False
    status: int = 429
    headers: dict[str, str] = field(default_factory=dict)
    bytes: int = 0
    chunked: bool = False
    count: int | None = None
    path_prefix: str = "/2.0/"


@dataclass
class Hostile:
    """The sandbox's hostile switches and odd renderings (part of the store; cleared by reset)."""

    switches: list[Switch] = field(default_factory=list)
    renders: dict[tuple[int, str, int], Render] = field(default_factory=dict)

    def render(self, org_id: int, resource: str, rid: int, blob: bytes) -> bytes:
        how = self.renders.get((org_id, resource, rid))
        return how.apply(blob) if how is not None else blob

    def page(self, asked: int) -> tuple[int, int]:
        """(page to serve, page to announce as ``current_page``)."""
        for s in self.switches:
            if s.kind == "ignore_page":
                return 1, asked if s.echo else 1
        return asked, asked

    def take(self, path: str) -> Switch | None:
        """The switch that answers this data request instead of the API, if any (counts it down)."""
        for s in self.switches:
            if s.kind in ("headers", "huge") and path.startswith(s.path_prefix):
                if s.count is not None:
                    s.count -= 1
                    if s.count <= 0:
                        self.switches.remove(s)
                return s
        return None


async def answer(switch: Switch, send: Send) -> int:
    """Send the switch's answer; returns its status."""
    if switch.kind == "headers":
        body = orjson.dumps({"message": "Too Many Attempts."})
        headers = [(k.lower().encode(), v.encode()) for k, v in switch.headers.items()]
        await send(
            {
                "type": "http.response.start",
                "status": switch.status,
                "headers": [(b"content-type", b"application/json"), *headers],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return switch.status
    head = b'{"current_page":1,"last_page":1,"total":0,"data":[],"padding":"'
    chunk = b"x" * 65536
    size = max(switch.bytes, len(head) + 2)
    start_headers = [(b"content-type", b"application/json")]
    if not switch.chunked:
        start_headers.append((b"content-length", str(size).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": start_headers})
    await send({"type": "http.response.body", "body": head, "more_body": True})
    left = size - len(head) - 2
    while left > 0:
        part = chunk[: min(left, len(chunk))]
        left -= len(part)
        try:
            await send({"type": "http.response.body", "body": part, "more_body": True})
        except OSError:  # the client gave up reading: that is the point
            return 200
    await send({"type": "http.response.body", "body": b'"}'})
    return 200


def _hostile(request: Request) -> Hostile:
    hostile: Hostile = request.app.state.store.hostile
    return hostile


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


@router.post("/hostile")
async def add_switch(request: Request, body: dict[str, Any] = Body(...)) -> Response:
    """Turn on a hostile answer (see the module docstring)."""
    if body.get("kind") not in HOSTILE_KINDS:
        return _json({"error": f"kind must be one of {', '.join(HOSTILE_KINDS)}"}, 400)
    try:
        switch = Switch(**body)
    except TypeError as exc:
        return _json({"error": str(exc)}, 400)
    store = request.app.state.store
    with store.lock:
        _hostile(request).switches.append(switch)
    return _json({"kind": switch.kind}, 201)


@router.delete("/hostile")
async def clear_switches(request: Request) -> Response:
    """Turn every hostile answer and odd rendering off."""
    store = request.app.state.store
    with store.lock:
        _hostile(request).switches.clear()
        _hostile(request).renders.clear()
    return _json({"ok": True})


@router.post("/organizations/{org_id}/{resource}/{rid}/render")
async def render_oddly(
    request: Request, org_id: int, resource: str, rid: int, body: dict[str, Any] = Body(...)
) -> Response:
    """Render one record oddly from now on (see the module docstring)."""
    store = request.app.state.store
    if org_id not in store.orgs or resource not in RESOURCES or store.get(org_id, resource, rid) is None:
        return _json({"error": "not found"}, 404)
    how = Render(
        set=dict(body.get("set") or {}),
        unset=list(body.get("unset") or []),
        literals={str(k): str(v) for k, v in (body.get("literals") or {}).items()},
    )
    with store.lock:
        _hostile(request).renders[(org_id, resource, rid)] = how
    return _json({"ok": True}, 201)


@router.delete("/organizations/{org_id}/{resource}/{rid}/render")
async def render_normally(request: Request, org_id: int, resource: str, rid: int) -> Response:
    """Render the record as stored again."""
    store = request.app.state.store
    with store.lock:
        found = _hostile(request).renders.pop((org_id, resource, rid), None) is not None
    return _json({"restored": found})
