"""The service as the image runs it: its layout and command, production settings, a real SIGTERM.

The image itself cannot be built in CI (no registry for base images), so this runs what the
Dockerfile's runtime stage holds (`app/`, `migrations/`, `alembic.ini`; no sandbox) with the
Dockerfile's own CMD and ENV, against a fresh database: it must migrate once on start
(MIGRATE_ON_START=true), serve, and stop within Docker's default 10 s while a sync is running.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from app.db.session import create_engine
from app.security.tokens import issue_token
from sandbox.generate import Sizes
from sandbox.server import SandboxHandle, run_sandbox
from sandbox.store import SandboxConfig
from tests.conftest import ENCRYPTION_KEYS, JWT_SECRET
from tests.db_server import choose_server, drop_database, recreate_database
from tests.integration.sync.processes import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (PROJECT_ROOT / "Dockerfile").read_text()
DOCKER_STOP_TIMEOUT = 10.0

pytestmark = pytest.mark.slow


def runtime_stage() -> str:
    return DOCKERFILE.split("AS runtime", 1)[1]


def image_command(port: int) -> list[str]:
    """The runtime stage's CMD, on loopback and a free port, with this venv's executables."""
    match = re.search(r"^CMD (\[.*\])$", runtime_stage(), re.MULTILINE)
    assert match, "the runtime stage has an exec-form CMD"
    command: list[str] = json.loads(match.group(1))
    assert "alembic" not in " ".join(command), "the command must not migrate (the lifespan does, once)"
    command = [
        str(port) if part == "8000" else "127.0.0.1" if part == "0.0.0.0" else part for part in command
    ]
    return [str(Path(sys.executable).parent / command[0]), *command[1:]]


def image_env() -> dict[str, str]:
    """The runtime stage's ENV lines (`KEY=value`, continued lines included)."""
    block = re.search(r"^ENV (.*?)(?<!\\)$", runtime_stage(), re.MULTILINE | re.DOTALL)
    assert block
    pairs = re.findall(r"([A-Z_]+)=(\S+)", block.group(1).replace("\\\n", " "))
    return {key: value for key, value in pairs if "$" not in value}


@pytest.fixture
def image_root(tmp_path: Path) -> Path:
    """What the runtime stage copies: `COPY <src> ./<dest>` lines from the build context."""
    copies = re.findall(r"^COPY (?!--from)(\S+) (\S+)$", runtime_stage(), re.MULTILINE)
    assert {source for source, _ in copies} == {"app", "migrations", "alembic.ini"}
    for source, destination in copies:
        target = tmp_path / destination
        if (PROJECT_ROOT / source).is_dir():
            shutil.copytree(PROJECT_ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(PROJECT_ROOT / source, target)
    assert not (tmp_path / "sandbox").exists()
    return tmp_path


@pytest.fixture
def fresh_database() -> Iterator[str]:
    server_url, dedicated = choose_server()
    if dedicated:
        pytest.skip("TEST_DATABASE_URL names one database; this test needs an empty one of its own")
    name = f"classy_sync_image_{os.getpid()}"
    url = asyncio.run(recreate_database(server_url, name))
    yield url
    asyncio.run(drop_database(server_url, name))


@pytest.fixture
def slow_classy() -> Iterator[SandboxHandle]:
    sizes = Sizes(supporters=400, transactions=400, registrations=50, campaigns=2, plans=5)
    with run_sandbox(SandboxConfig(seed=5, sizes=sizes, rate_limit=0)) as handle:
        httpx.post(
            f"{handle.control_url}/faults", json={"kind": "latency", "rate": 1.0, "latency_ms": 1500}
        ).raise_for_status()
        yield handle


async def schema_version(url: str) -> str | None:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            exists = await connection.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL"))
            return (
                await connection.scalar(text("SELECT version_num FROM alembic_version")) if exists else None
            )
    finally:
        await engine.dispose()


def test_the_image_migrates_once_serves_and_stops_within_docker_s_timeout(
    image_root: Path, fresh_database: str, slow_classy: SandboxHandle, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        **image_env(),
        "PYTHONPATH": str(image_root),
        "DATABASE_URL": fresh_database,
        "JWT_SECRET": JWT_SECRET,
        "ENCRYPTION_KEYS": ENCRYPTION_KEYS,
        "PUBLIC_URL": base,
        "CLASSY_API_URL": slow_classy.api_url,
        "CLASSY_TOKEN_URL": slow_classy.token_url,
        "CLASSY_AUTHORIZE_URL": slow_classy.authorize_url,
        "SCHEDULER_TICK_SECONDS": "0.2",
        "LOG_LEVEL": "INFO",
    }
    assert env["APP_ENV"] == "production" and env["MIGRATE_ON_START"] == "true"
    assert asyncio.run(schema_version(fresh_database)) is None
    log_path = tmp_path / "service.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        image_command(port),
        cwd=image_root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "the service did not become ready"
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        assert asyncio.run(schema_version(fresh_database)), "the lifespan migrated the empty database"
        # Connect: a full import starts and crawls along (every Classy request takes 1.5 s).
        token = issue_token(JWT_SECRET, sub="ops", account="acme", role="admin")
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=auth, timeout=30) as http:
            assert http.post("/api/v1/apps/classy/connect").status_code == 200
            body = {
                "client_id": slow_classy.client_id,
                "client_secret": slow_classy.client_secret,
                "organization_id": slow_classy.organization_ids[0],
            }
            assert http.put("/api/v1/apps/classy/credentials", json=body).status_code == 200
            deadline = time.monotonic() + 30
            while not http.get("/api/v1/apps/classy").json()["sync_running"]:
                assert time.monotonic() < deadline, "no sync started"
                time.sleep(0.2)
        time.sleep(1.0)
        started = time.monotonic()
        os.killpg(process.pid, signal.SIGTERM)
        code = process.wait(DOCKER_STOP_TIMEOUT + 5)
        elapsed = time.monotonic() - started
        assert elapsed < DOCKER_STOP_TIMEOUT - 1, f"stopping took {elapsed:.1f} s"
        assert code in (0, -signal.SIGTERM), log_path.read_text()[-3000:]  # uvicorn re-raises SIGTERM
        assert '"message": "classy-sync stopped"' in log_path.read_text(), "the lifespan ended cleanly"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        log.close()
    assert asyncio.run(run_statuses(fresh_database)) == ["cancelled"], "the run was closed, not left running"


async def run_statuses(url: str) -> list[str]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return list((await connection.execute(text("SELECT status FROM sync_run"))).scalars())
    finally:
        await engine.dispose()


def test_production_refuses_a_weak_secret_with_one_sentence(image_root: Path) -> None:
    """`uvicorn app.main:app` with APP_ENV=production and a short JWT_SECRET exits, naming the variable."""
    env = {
        **os.environ,
        **image_env(),
        "PYTHONPATH": str(image_root),
        "DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none",
        "JWT_SECRET": "a",
        "ENCRYPTION_KEYS": ENCRYPTION_KEYS,
    }
    result = subprocess.run(
        image_command(free_port()), cwd=image_root, env=env, capture_output=True, timeout=60, check=False
    )
    assert result.returncode != 0
    refusals = [
        json.loads(line)
        for line in result.stderr.decode().splitlines()
        if line.startswith("{") and "refuses to start" in line
    ]
    assert len(refusals) == 1, result.stderr.decode()[-2000:]
    assert refusals[0]["level"] == "CRITICAL"
    assert refusals[0]["message"] == (
        "classy-sync refuses to start: JWT_SECRET must be at least 32 bytes long when APP_ENV=production "
        "(a short secret can be cracked offline from one token)."
    )
    assert "Traceback" not in result.stderr.decode()  # the sentence alone, not uvicorn's traceback of it
