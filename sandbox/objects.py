"""Single records by id: ``GET /2.0/{resource}/{id}`` (docs/classy-api.md §6.1, single-object endpoints).

Ids are unique across the sandbox's organizations, as Classy's are; the record's organization decides
access (403 when the token may not read it), an unknown id is 404. ``with=items`` embeds a
transaction's items. Odd renderings (``sandbox.hostile``) apply here too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from sandbox.query import QueryError, parse_with
from sandbox.render import record_bytes
from sandbox.schema import ENTITY
from sandbox.store import SandboxStore

OBJECT_RESOURCES = ("supporters", "transactions", "registrations", "recurring-donation-plans", "campaigns")
NOT_FOUND = {"error": "The resource cannot be found"}
Gatekeep = Callable[[SandboxStore, Request, "str | None", str], "int | None"]


def install_objects(
    app: FastAPI, store: SandboxStore, gatekeep: Gatekeep, api_error: type[Exception]
) -> None:
    """Register one ``GET /2.0/{resource}/{rid}`` route per resource."""
    for resource in OBJECT_RESOURCES:
        _install_one(app, store, resource, gatekeep, api_error)


def _install_one(
    app: FastAPI, store: SandboxStore, resource: str, gatekeep: Gatekeep, api_error: Any
) -> None:
    async def get_one(request: Request, rid: str) -> Response:
        gatekeep(store, request, None, ENTITY[resource])  # token and rate limit
        try:
            embeds = parse_with(resource, request.query_params.get("with"))
        except QueryError as exc:
            raise api_error(400, {"errors": [str(exc)]}) from exc
        wanted = int(rid) if rid.isdigit() else -1
        with store.lock:
            for org_id in store.orgs:
                coll = store.collection(org_id, resource)
                rec = coll.recs.get(wanted) if coll is not None else None
                if coll is None or rec is None:
                    continue
                gatekeep(store, request, str(org_id), ENTITY[resource])  # 403 unless readable
                blob = record_bytes(coll, rec, items="items" in embeds)
                blob = store.hostile.render(org_id, resource, rec.id, blob)
                return Response(blob, media_type="application/json")
        raise api_error(404, NOT_FOUND)

    get_one.__name__ = f"get_{resource.replace('-', '_')}"
    app.add_api_route(f"/2.0/{resource}/{{rid}}", get_one, methods=["GET"], include_in_schema=False)
