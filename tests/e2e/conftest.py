"""End-to-end harness: real headless Chromium (Debian's `chromium`) driven by Playwright, against the
service under uvicorn on a free loopback port, wired to a Classy sandbox and the test database.

Where Playwright's Python package or a Chromium binary cannot be had, the e2e tests are skipped with
the reason and the commands that install them (`pip install playwright`, `apt-get install chromium`;
never `playwright install`, which downloads a browser build of its own).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.security.tokens import issue_token
from sandbox.generate import Sizes
from sandbox.server import SandboxHandle, run_sandbox
from sandbox.store import SandboxConfig
from tests.conftest import JWT_SECRET, service_in_thread

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("CONSOLE_SCREENSHOT_DIR", PROJECT_ROOT / "docs" / "screenshots"))
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
INSTALL_HINT = (
    "install with `apt-get install -y chromium` and `.venv/bin/pip install playwright` "
    "(no `playwright install`)"
)
SMALL_ORG = Sizes(supporters=150, transactions=400, registrations=60, campaigns=3, plans=10)


def find_chromium() -> str | None:
    """CHROMIUM_PATH, else Debian's chromium, else whatever `chromium` is on PATH."""
    explicit = os.environ.get("CHROMIUM_PATH")
    candidates = [explicit] if explicit else [*CHROMIUM_CANDIDATES, shutil.which("chromium")]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """Debian's Chromium and Playwright's package are here, or the e2e tests are skipped (with why)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip(f"Playwright's Python package is not installed: {INSTALL_HINT}")
    executable = find_chromium()
    if executable is None:
        pytest.skip(f"no Chromium binary found (CHROMIUM_PATH, /usr/bin/chromium, PATH): {INSTALL_HINT}")
    return executable


@contextlib.contextmanager
def headless_chromium(executable: str) -> Iterator[Any]:
    """Playwright driving a headless Chromium, for the body of one test.

    Playwright's sync API runs an event loop on the calling thread while it is open, so it must not
    be a fixture: the database fixtures (asyncio) set up before it and tear down after it.
    """
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=executable, headless=True, args=CHROMIUM_ARGS, timeout=30_000
            )
        except PlaywrightError as exc:
            pytest.skip(f"Chromium at {executable} does not start headless here: {str(exc)[:300]}")
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def sandbox() -> Iterator[SandboxHandle]:
    """A small Classy organization served on loopback."""
    config = SandboxConfig(seed=11, organizations=1, sizes=SMALL_ORG, rate_limit=0)
    with run_sandbox(config) as handle:
        yield handle


@dataclass
class LiveService:
    base_url: str
    sandbox: SandboxHandle

    def admin_token(self) -> str:
        return issue_token(JWT_SECRET, sub="alice", account="acme", role="admin", name="Alice Admin")


@pytest.fixture
def live_service(db: AsyncEngine, database_url: str, sandbox: SandboxHandle) -> Iterator[LiveService]:
    """The service (uvicorn in a thread, scheduler on) against the test database and the sandbox."""
    with service_in_thread(
        database_url,
        name="e2e-service",
        CLASSY_API_URL=sandbox.api_url,
        CLASSY_TOKEN_URL=sandbox.token_url,
        CLASSY_AUTHORIZE_URL=sandbox.authorize_url,
        SCHEDULER_ENABLED=True,
        SCHEDULER_TICK_SECONDS=0.2,
        SYNC_INTERVAL_SECONDS=3600,
        CLASSY_RATE_LIMIT_PER_MINUTE=100_000,
    ) as base:
        yield LiveService(base, sandbox)
