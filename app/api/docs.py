"""`/docs` (Swagger UI) served from this service's own files, with a strict CSP of its own.

FastAPI's default page loads Swagger UI's script from a public CDN: on the console's origin that is
third-party code with access to the page (and the admin's pasted token), and on a network without
internet access the page stays blank. The assets come from the `fastapi-offline` package, which
bundles Swagger UI; the page runs no inline script (its start-up script is a file of ours too), so
the CSP can forbid everything not served from here.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from app.errors import NotFoundError

DOCS_PATH = "/docs"
ASSETS_PATH = f"{DOCS_PATH}/assets"
_BUNDLED = Path(fastapi_offline.__file__).resolve().parent / "static"
_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
_INIT_SCRIPT = b"""window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
  });
});
"""
_PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>classy-sync API</title>
<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">
<link rel="icon" href="{ASSETS_PATH}/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="{ASSETS_PATH}/init.js"></script>
</body>
</html>
"""
# Swagger UI sets style attributes from script, hence 'unsafe-inline' for styles only.
DOCS_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

router = APIRouter(include_in_schema=False)


@router.get(DOCS_PATH)
async def swagger_ui() -> HTMLResponse:
    """The interactive API documentation, entirely from this service."""
    return HTMLResponse(_PAGE, headers=DOCS_SECURITY_HEADERS)


@router.get(ASSETS_PATH + "/{name}")
async def docs_asset(name: str) -> Response:
    """Swagger UI's own files (a fixed list: nothing else of the package directory is reachable)."""
    body, etag, media_type = _asset(name)
    headers = {**DOCS_SECURITY_HEADERS, "ETag": etag, "Cache-Control": "public, max-age=86400"}
    return Response(body, media_type=media_type, headers=headers)


@cache
def _asset(name: str) -> tuple[bytes, str, str]:
    if name == "init.js":
        body, media_type = _INIT_SCRIPT, "text/javascript; charset=utf-8"
    elif name in _ASSETS:
        body, media_type = (_BUNDLED / name).read_bytes(), _ASSETS[name]
    else:
        raise NotFoundError("No such documentation asset.")
    return body, '"' + hashlib.sha256(body).hexdigest()[:20] + '"', media_type
