"""Property test of the OpenAPI surface: schemathesis drives every operation of our `/openapi.json`
against the real service (uvicorn on loopback, real Postgres) with an admin token and checks that no
answer is a 5xx, has an undocumented status, or breaks its documented schema.

Classy points at a closed port here, so Save/Reconnect exercise the "Classy unavailable" path; the
lifecycle tests cover the sandbox-backed paths.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.db.session import create_engine
from app.main import create_app
from tests.conftest import make_settings, truncate_all
from tests.integration.api.lifecycle_helpers import ADMIN, classy_settings, closed_port_url

# Only the schema is needed at collection time; no database is touched to build it.
schema = schemathesis.openapi.from_dict(
    create_app(make_settings("postgresql+asyncpg://schema-only/none"), migrate=False).openapi()
)


@schemathesis.check
def no_server_error(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> None:
    """No 5xx, except the documented 502 "Classy unavailable" (Classy is a closed port here)."""
    if response.status_code >= 500:
        body = response.json() if "json" in response.headers.get("content-type", [""])[0] else {}
        if not (response.status_code == 502 and body.get("code") == "classy_unavailable"):
            raise AssertionError(f"server error {response.status_code}: {response.text[:300]}")


CHECKS = [no_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def live_server(database_url: str) -> Iterator[str]:
    """The service under uvicorn in a thread (its own event loop, its own engine)."""
    dead = closed_port_url()
    config = classy_settings(
        database_url,
        api_url=dead + "/2.0",
        token_url=dead + "/oauth2/auth",
        authorize_url=dead + "/authorize",
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(config, migrate=False), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)

    async def clean() -> None:
        engine = create_engine(database_url, pool_size=1)
        await truncate_all(engine)
        await engine.dispose()

    asyncio.run(clean())


@schema.parametrize()
@settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_openapi_surface(case: schemathesis.Case, live_server: str) -> None:
    response = case.call(base_url=live_server, headers=ADMIN, timeout=30)
    case.validate_response(response, checks=CHECKS)
