"""How the API describes itself to integrators: operation ids, tag descriptions, the version.

Integrators generate clients from `/openapi.json`; FastAPI's default operation ids
(`list_apps_api_v1_apps_get`) become their method names. `operation_id` builds `<tag>_<route name>`
instead, with the tag's noun dropped from the route name (`list_donations` under `donations` →
`donations_list`), so a route added later gets a readable id without anyone thinking of it. Give each
route one tag from `TAGS` (the resource it serves); `tests/unit/test_openapi_docs.py` checks both.
"""

from __future__ import annotations

import re
from importlib import metadata
from typing import Any

from fastapi.routing import APIRoute

DISTRIBUTION = "classy-sync"

TAGS: list[dict[str, Any]] = [
    {
        "name": "apps",
        "description": "The App Directory and the account's Classy integration: connect, save credentials "
        "(checked with Classy), pause, resume, sync now, disconnect, reconnect; its sync runs and audit "
        "events. Writes need the admin role.",
    },
    {
        "name": "contacts",
        "description": "One contact per email per account, merged from Classy supporters, donors and "
        "registrants.",
    },
    {
        "name": "donations",
        "description": "Every Classy transaction, whatever its status, with its campaign and contact.",
    },
    {
        "name": "changes",
        "description": "The change feed: every synced record that changed, in commit order, from a cursor.",
    },
    {
        "name": "campaigns",
        "description": "The organization's Classy campaigns.",
    },
    {
        "name": "recurring_plans",
        "description": "Classy recurring donation plans, each linked to its contact; "
        "`GET /api/v1/donations?classy_recurring_plan_id=` lists a plan's payments.",
    },
    {
        "name": "registrations",
        "description": "Event attendance (Classy registrations), each linked to its contact.",
    },
    {
        "name": "oauth",
        "description": "Where Classy's login sends the browser back in the authorization_code flow "
        "(no bearer token; it always redirects to FRONTEND_URL).",
    },
    {
        "name": "operations",
        "description": "Liveness, readiness and Prometheus metrics, for orchestrators (no bearer token).",
    },
    {
        "name": "webhooks",
        "description": "Where Classy delivers webhook events (signed; no bearer token).",
    },
]


def service_version() -> str:
    """The version in pyproject.toml, as installed (one place to change it)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # running from a checkout that was never installed
        return "0.0.0+unknown"


def operation_id(route: APIRoute) -> str:
    """`<tag>_<route name without the tag's noun>`: `apps_get_classy`, `donations_list`, …"""
    tag = str(route.tags[0]) if route.tags else "service"
    prefix = re.sub(r"[^a-z0-9]+", "_", tag.lower()).strip("_")
    nouns = {prefix, prefix.removesuffix("s")}
    words = [word for word in route.name.split("_") if word and word not in nouns]
    return "_".join([prefix, *words])
