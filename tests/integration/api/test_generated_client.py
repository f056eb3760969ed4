"""How integrators use us: a typed client generated from the running service's /openapi.json.

The service runs as a real subprocess (real Postgres, the Classy sandbox on loopback);
`openapi-python-client` generates a client from what it serves into a temporary directory, and the test
drives the service with that client only: connect, save credentials, wait for the import, list donations,
read an error as the documented `ErrorBody`, and follow the change feed (where the service has one).
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from app.security.tokens import issue_token
from sandbox.server import SandboxHandle
from tests.conftest import JWT_SECRET
from tests.integration.sync.processes import ServiceProcess

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PACKAGE = "classy_sync_client"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not GENERATOR.exists(), reason="openapi-python-client is a dev dependency"),
]


@pytest.fixture
def service(sandbox: SandboxHandle, database_url: str, tmp_path: Path, db: Any) -> Iterator[ServiceProcess]:
    env = {
        "CLASSY_API_URL": sandbox.api_url,
        "CLASSY_TOKEN_URL": sandbox.token_url,
        "CLASSY_AUTHORIZE_URL": sandbox.authorize_url,
        "CLASSY_AUTH_FLOW": "client_credentials",
        "CLASSY_RATE_LIMIT_PER_MINUTE": 1_000_000,
        "SCHEDULER_TICK_SECONDS": 0.2,
    }
    with ServiceProcess(database_url, tmp_path / "service", **env) as process:
        yield process


@pytest.fixture
def client_package(service: ServiceProcess, tmp_path: Path) -> Iterator[ModuleType]:
    """Generate the client from the running service and import it (removed again afterwards)."""
    spec = tmp_path / "openapi.json"
    spec.write_bytes(httpx.get(f"{service.base_url}/openapi.json", timeout=10).raise_for_status().content)
    config = tmp_path / "generator.yaml"
    config.write_text("post_hooks: []\n")  # no formatter run: faster, and nothing outside tmp_path
    out = tmp_path / "generated"
    subprocess.run(
        [str(GENERATOR), "generate", "--path", str(spec), "--meta", "none", "--config", str(config),
         "--output-path", str(out / PACKAGE)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _api(name: str) -> ModuleType:
    """`apps.apps_get_classy` → the generated module of that operation."""
    return importlib.import_module(f"{PACKAGE}.api.{name}")


def _client(package: ModuleType, service: ServiceProcess) -> Any:
    token = issue_token(JWT_SECRET, sub="alice", account="acme", role="admin", name="Alice")
    return package.AuthenticatedClient(
        base_url=service.base_url, token=token, raise_on_unexpected_status=True
    )


def _wait_for_sync(client: Any, *, after_runs: int = 0, timeout: float = 90) -> Any:
    """The newest sync run once there are more than `after_runs` runs and it has finished."""
    deadline = time.monotonic() + timeout
    runs = _api("apps.apps_list_classy_sync_runs")
    while True:
        page = runs.sync(client=client)
        if len(page.items) > after_runs and page.items[0].status != "running":
            return page.items[0]
        assert time.monotonic() < deadline, f"no sync finished in {timeout:.0f} s"
        time.sleep(0.2)


def _connect_and_import(client: Any, sandbox: SandboxHandle) -> None:
    """Connect, Save credentials (client_credentials: connected at once), wait for the full import."""
    models = importlib.import_module(f"{PACKAGE}.models")
    org = sandbox.organization_ids[0]
    apps = _api("apps.apps_list").sync(client=client)
    assert [(a.slug, a.status.value) for a in apps] == [("classy", "available")]
    connected = _api("apps.apps_connect_classy").sync(client=client)
    assert connected.status == models.IntegrationStatus.AWAITING_CREDENTIALS
    body = models.CredentialsIn(
        client_id=sandbox.client_id, client_secret=sandbox.client_secret, organization_id=org
    )
    saved = _api("apps.apps_save_classy_credentials").sync(client=client, body=body)
    assert saved.status == models.IntegrationStatus.CONNECTED and saved.organization_id == org
    run = _wait_for_sync(client)
    assert run.status == "succeeded", run.error


def test_generated_client_drives_the_service(
    client_package: ModuleType, service: ServiceProcess, sandbox: SandboxHandle
) -> None:
    models = importlib.import_module(f"{PACKAGE}.models")
    client = _client(client_package, service)
    _connect_and_import(client, sandbox)

    assert sandbox.store is not None
    expected = sorted(row["id"] for row in sandbox.store.dump(sandbox.organization_ids[0], "transactions"))
    donations, cursor = [], None
    listing = _api("donations.donations_list")
    while True:
        kwargs: dict[str, Any] = {"limit": 2} if cursor is None else {"limit": 2, "cursor": cursor}
        result = listing.sync(client=client, **kwargs)
        donations += result.items
        cursor = result.next_cursor
        if not cursor:
            break
    assert sorted(d.classy_transaction_id for d in donations) == expected

    # Errors come back as the documented ErrorBody, parsed by the generated client.
    missing = _api("donations.donations_get").sync_detailed(client=client, donation_id=2**62)
    assert missing.status_code == 404
    assert isinstance(missing.parsed, models.ErrorBody) and missing.parsed.code == "not_found"


def _feed_operation(service: ServiceProcess) -> ModuleType:
    spec = httpx.get(f"{service.base_url}/openapi.json", timeout=10).json()
    operation = spec["paths"].get("/api/v1/changes", {}).get("get")
    if operation is None:
        pytest.skip("this service has no change feed (GET /api/v1/changes)")
    tag = re.sub(r"[^a-z0-9]+", "_", operation["tags"][0].lower()).strip("_")
    return _api(f"{tag}.{operation['operationId']}")


def _follow_feed(
    feed: ModuleType, client: Any, after: str | None, until: Callable[[list[dict[str, Any]]], bool]
) -> tuple[list[dict[str, Any]], str | None]:
    """Poll the feed as an integrator does (page by page, storing next_cursor) until `until(changes)`.

    The feed may hold back changes of transactions still in flight, so what a sync wrote can appear a
    moment after the run is reported finished.
    """
    changes: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while True:
        kwargs: dict[str, Any] = {"limit": 3} if after is None else {"limit": 3, "after": after}
        page = feed.sync(client=client, **kwargs)
        changes += [item.to_dict() for item in page.items]
        after = page.next_cursor or after
        if not page.items:
            if until(changes):
                return changes, after
            assert time.monotonic() < deadline, f"the feed did not show the expected changes: {changes}"
            time.sleep(0.2)


def _donation_ids(changes: list[dict[str, Any]]) -> set[int]:
    return {c["data"]["classy_transaction_id"] for c in changes if c["type"] == "donation" and c["data"]}


def test_generated_client_follows_the_change_feed(
    client_package: ModuleType, service: ServiceProcess, sandbox: SandboxHandle
) -> None:
    """An integrator stores next_cursor and calls again: it sees the import once, then what changed."""
    feed = _feed_operation(service)
    client = _client(client_package, service)
    _connect_and_import(client, sandbox)
    org = sandbox.organization_ids[0]
    assert sandbox.store is not None

    expected = {row["id"] for row in sandbox.store.dump(org, "transactions")}
    changes, cursor = _follow_feed(feed, client, None, until=lambda seen: _donation_ids(seen) >= expected)
    assert _donation_ids(changes) == expected
    seen = [c["seq"] for c in changes]
    assert len(seen) == len(set(seen)), "each change once"

    refunded = sandbox.store.dump(org, "transactions")[0]["id"]
    assert sandbox.store.refund(org, refunded) is not None
    # The body is optional; the generated client needs one given (it cannot send its Unset marker).
    models = importlib.import_module(f"{PACKAGE}.models")
    _api("apps.apps_sync_classy").sync(
        client=client, body=models.SyncRequestIn.from_dict({"mode": "incremental"})
    )
    run = _wait_for_sync(client, after_runs=1)
    assert run.status == "succeeded", run.error
    later, _ = _follow_feed(feed, client, cursor, until=lambda seen: refunded in _donation_ids(seen))
    refunds = [c for c in later if c["type"] == "donation" and c["data"]["classy_transaction_id"] == refunded]
    assert refunds[-1]["data"]["status"] == "refunded"
    assert not {c["seq"] for c in later} & set(seen), "nothing seen before comes again"
