"""Routes of the console: three server-rendered pages and their static assets (none in OpenAPI).

Each page is the shared shell (`templates/shell.html`) around a page body (`templates/<page>.html`); the
script `static/console.js` signs in with a bearer token and fills the page from the public JSON API.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from html import escape
from pathlib import Path
from string import Template

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.errors import NotFoundError

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

# The console loads nothing from elsewhere and runs no inline script or style.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
ASSET_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


@dataclass(frozen=True)
class Page:
    name: str
    title: str
    path: str
    in_nav: bool = True


PAGES = {
    "directory": Page("directory", "App Directory", "/console"),
    "classy": Page("classy", "Classy App Settings", "/console/apps/classy"),
    "data": Page("data", "Contacts & donations", "/console/data"),
    "campaigns": Page("campaigns", "Campaigns", "/console/campaigns"),
    "plans": Page("plans", "Recurring plans", "/console/recurring-plans"),
    # Detail pages: reached from the lists, the id is in the path (console.js reads it).
    "contact": Page("contact", "Contact", "/console/contacts/{id}", in_nav=False),
    "donation": Page("donation", "Donation", "/console/donations/{id}", in_nav=False),
}

router = APIRouter(include_in_schema=False)


@cache
def _asset(name: str) -> tuple[bytes, str]:
    """The bytes of a static asset and their ETag (assets are read once per process)."""
    body = (STATIC / name).read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


@cache
def _render(page_name: str) -> str:
    page = PAGES[page_name]
    shell = Template((TEMPLATES / "shell.html").read_text(encoding="utf-8"))
    current = ' aria-current="page"'
    nav = "\n".join(
        f'<a href="{p.path}"{current if p.name == page.name else ""}>{escape(p.title)}</a>'
        for p in PAGES.values()
        if p.in_nav
    )
    return shell.substitute(
        title=escape(page.title),
        page=page.name,
        nav=nav,
        body=(TEMPLATES / f"{page.name}.html").read_text(encoding="utf-8"),
        css_version=_asset("console.css")[1].strip('"'),
        js_version=_asset("console.js")[1].strip('"'),
    )


def _page(page_name: str) -> HTMLResponse:
    return HTMLResponse(_render(page_name), headers={**SECURITY_HEADERS, "Cache-Control": "no-store"})


@router.get("/console")
async def directory() -> HTMLResponse:
    """App Directory."""
    return _page("directory")


@router.get("/console/")
async def directory_slash() -> RedirectResponse:
    return RedirectResponse("/console", status_code=308)


@router.get("/console/apps/classy")
async def classy_settings() -> HTMLResponse:
    """Classy App Settings (also where the OAuth callback lands with ?connected=1 or ?error=…)."""
    return _page("classy")


@router.get("/console/data")
async def synced_data() -> HTMLResponse:
    """Contacts and donations browser."""
    return _page("data")


@router.get("/console/campaigns")
async def campaigns() -> HTMLResponse:
    """Campaigns list."""
    return _page("campaigns")


@router.get("/console/recurring-plans")
async def recurring_plans() -> HTMLResponse:
    """Recurring plans list."""
    return _page("plans")


@router.get("/console/contacts/{contact_id}")
async def contact(contact_id: int) -> HTMLResponse:
    """One contact: the person, donations, recurring plans and registrations."""
    return _page("contact")


@router.get("/console/donations/{donation_id}")
async def donation(donation_id: int) -> HTMLResponse:
    """One donation: gift, fund, fundraising page and team, payment, dedication."""
    return _page("donation")


@router.get("/console/static/{name}")
async def static_asset(name: str, request: Request) -> Response:
    """console.js and console.css only (a fixed list, so no path is ever taken from the request)."""
    if name not in {"console.js", "console.css"}:
        raise NotFoundError("No such console asset.")
    body, etag = _asset(name)
    headers = {**SECURITY_HEADERS, "ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=ASSET_TYPES[Path(name).suffix], headers=headers)
