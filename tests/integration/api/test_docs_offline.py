"""/docs is served entirely by the service (no CDN), under a CSP that allows nothing else.

That it renders in a browser with every outside request blocked: tests/e2e/test_docs_offline.py.
"""

from __future__ import annotations

import re

import httpx

ATTRIBUTES = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


async def test_docs_reference_only_local_assets_and_they_are_served(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self';" in csp
    assert "http" not in csp, "no third-party source is allowed"
    assert "<script>" not in page.text, "no inline script (the CSP would block it)"
    references = ATTRIBUTES.findall(page.text)
    assert len(references) >= 4
    for reference in references:
        assert reference.startswith("/docs/assets/"), f"{reference} is not served by the service"
        asset = await client.get(reference)
        assert asset.status_code == 200, reference
        assert len(asset.content) > 100, reference
        if reference.endswith(".js"):
            assert asset.headers["content-type"].startswith("text/javascript")
    bundle = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert b"SwaggerUIBundle" in bundle.content and len(bundle.content) > 500_000
    init = await client.get("/docs/assets/init.js")
    assert b'"/openapi.json"' in init.content
    assert (await client.get("/openapi.json")).status_code == 200


async def test_nothing_else_of_the_package_is_reachable(client: httpx.AsyncClient) -> None:
    for name in ("redoc.standalone.js", "..%2F__init__.py", "core.py"):
        response = await client.get(f"/docs/assets/{name}")
        assert response.status_code == 404, name
        assert response.json()["code"] == "not_found"
