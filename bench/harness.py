"""Pieces every benchmark shares: the machine, bench databases, the service under test as a subprocess.

The service is the real thing (``uvicorn app.main:app`` in its own process group, migrations run by its
lifespan), connected through the public API with a minted admin token, exactly as an operator would.
Everything started here is stopped in ``finally`` blocks, even when a benchmark fails or times out.
"""

from __future__ import annotations

import base64
import contextlib
import os
import platform
import re
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from app.security.tokens import issue_token
from sandbox.processes import ChildFailed, free_port, python_env, spawn
from sandbox.server import SandboxHandle

ROOT = Path(__file__).resolve().parents[1]
SERVER_DSN = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
DB_PREFIX = "classy_sync_bench_"
JWT_SECRET = "bench-" + secrets.token_urlsafe(32)
ENCRYPTION_KEYS = "b1:" + base64.b64encode(secrets.token_bytes(32)).decode()


class BenchError(RuntimeError):
    """A benchmark could not produce its figure (the message says why)."""


# -- the machine ---------------------------------------------------------------------------------


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _ram_gib() -> float:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    return 0.0


def _git_commit() -> str:
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{sha}{' (with uncommitted changes)' if dirty else ''}" if sha else "unknown"


async def _postgres_version() -> str:
    conn = await asyncpg.connect(SERVER_DSN)
    try:
        version: str = await conn.fetchval("SHOW server_version")
        return version
    finally:
        await conn.close()


async def machine() -> dict[str, str]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _git_commit(),
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "ram": f"{_ram_gib():.1f} GiB",
        "python": platform.python_version(),
        "postgres": await _postgres_version(),
        "os": f"{platform.system()} {platform.release()}",
    }


# -- CPU counters ----------------------------------------------------------------------------------


def cpu_seconds(pid: int, *, children: bool = True) -> float:
    """User + system CPU seconds of a process (and, by default, its reaped children) so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(v) for v in fields[11 : 15 if children else 13]) / ticks


def _parent(pid: str) -> int:
    with contextlib.suppress(OSError, IndexError, ValueError):
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    return -1


_POSTMASTER: list[int] = []


def _postmaster_pid() -> int | None:
    """The pid of the bench server's postmaster (from its data directory), if this machine runs it."""
    if not _POSTMASTER:

        async def data_directory() -> str:
            conn = await asyncpg.connect(SERVER_DSN)
            try:
                value: str = await conn.fetchval("SHOW data_directory")
                return value
            finally:
                await conn.close()

        import asyncio
        from concurrent.futures import ThreadPoolExecutor

        # In a thread of its own: a caller inside an event loop (the steady scenario's rounds) cannot
        # asyncio.run here, and a failure falls back to counting every postgres process on the machine.
        with contextlib.suppress(Exception), ThreadPoolExecutor(1) as pool:
            directory = pool.submit(lambda: asyncio.run(data_directory())).result()
            _POSTMASTER.append(int((Path(directory) / "postmaster.pid").read_text().split()[0]))
        if not _POSTMASTER:
            _POSTMASTER.append(-1)
    return _POSTMASTER[0] if _POSTMASTER[0] > 0 else None


def postgres_cpu_seconds() -> float:
    """CPU seconds of the bench's Postgres server: its postmaster, its live processes, and (through the
    postmaster's reaped-children counters) every backend that has exited. Only that server: another
    cluster on this machine (other users' tests) does not count. Falls back to every postgres process
    when the postmaster cannot be found (server not local, data directory unreadable)."""
    postmaster = _postmaster_pid()
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if (proc / "comm").read_text().strip() not in ("postgres", "postmaster"):
                continue
            if postmaster is None or int(proc.name) == postmaster or _parent(proc.name) == postmaster:
                total += cpu_seconds(int(proc.name))
    return total


# -- databases -----------------------------------------------------------------------------------


def db_dsn(name: str) -> str:
    return re.sub(r"/[^/]*$", f"/{name}", SERVER_DSN)


def db_url(name: str) -> str:
    """The SQLAlchemy URL the service is given."""
    return db_dsn(name).replace("postgresql://", "postgresql+asyncpg://", 1)


async def create_db(suffix: str) -> str:
    """A fresh, empty ``classy_sync_bench_<suffix>`` database; returns its name."""
    name = f"{DB_PREFIX}{suffix}"
    conn = await asyncpg.connect(SERVER_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def drop_db(name: str) -> None:
    if not name.startswith(DB_PREFIX):  # never touch anything that is not ours
        raise BenchError(f"refusing to drop {name!r}")
    conn = await asyncpg.connect(SERVER_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


# -- processes -----------------------------------------------------------------------------------


class RssSampler:
    """Samples a process's RSS every ``interval`` s in a thread; ``peak_mb`` also reads the kernel's VmHWM."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"rss-{pid}")

    def _read(self, key: str) -> float | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith(key):
                    return int(line.split()[1]) / 1024
        return None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            value = self._read("VmRSS:")
            if value is not None:
                self.samples.append(value)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def current_mb(self) -> float:
        return self._read("VmRSS:") or 0.0

    def stop(self) -> dict[str, float]:
        hwm = self._read("VmHWM:")
        self._stop.set()
        self._thread.join(2)
        sampled = max(self.samples, default=0.0)
        return {"peak_mb": max(hwm or 0.0, sampled), "sampled_peak_mb": sampled}


@dataclass
class Service:
    """The service under test, running in a subprocess."""

    base_url: str
    proc: subprocess.Popen[bytes]
    database: str
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def token(self, account: str) -> str:
        if account not in self.tokens:
            self.tokens[account] = issue_token(JWT_SECRET, sub="bench", account=account, role="admin")
        return self.tokens[account]

    def headers(self, account: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(account)}"}


def service_env(database: str, sandbox: SandboxHandle, **extra: str) -> dict[str, str]:
    env = {
        **python_env(),
        "APP_ENV": "production",
        "DATABASE_URL": db_url(database),
        "JWT_SECRET": JWT_SECRET,
        "ENCRYPTION_KEYS": ENCRYPTION_KEYS,
        "CLASSY_API_URL": sandbox.api_url,
        "CLASSY_TOKEN_URL": sandbox.token_url,
        "CLASSY_AUTHORIZE_URL": sandbox.authorize_url,
        "CLASSY_AUTH_FLOW": "client_credentials",
        "CLASSY_RATE_LIMIT_PER_MINUTE": "1000000",
        "SCHEDULER_TICK_SECONDS": "0.2",
        "SYNC_INTERVAL_SECONDS": "86400",
        "LOG_LEVEL": "WARNING",
        "PUBLIC_URL": "http://127.0.0.1:8000",
    }
    env.update(extra)
    return env


@contextlib.contextmanager
def run_service(
    database: str, sandbox: SandboxHandle, *, startup_timeout: float = 60.0, **extra: str
) -> Iterator[Service]:
    """``uvicorn app.main:app`` on a free port in its own process group; waits for /readyz."""
    port = free_port()
    args = ["-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)]
    args += ["--log-level", "warning", "--no-access-log"]
    log = ROOT / "bench" / ".service.log"
    child = spawn("service", args, env=service_env(database, sandbox, **extra), log=log)
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            child.wait_healthy(f"{base}/readyz", timeout=startup_timeout)
        except ChildFailed as exc:
            raise BenchError(str(exc)) from None
        yield Service(base, child.process, database)
    finally:
        child.stop()


def connect(service: Service, sandbox: SandboxHandle, account: str, organization_id: int,
            client_id: str | None = None, client_secret: str | None = None) -> None:  # fmt: skip
    """Connect an account as its admin would: POST connect, then PUT the app's credentials."""
    headers = service.headers(account)
    with httpx.Client(base_url=service.base_url, timeout=60) as http:
        response = http.post("/api/v1/apps/classy/connect", headers=headers)
        if response.status_code != 200:
            raise BenchError(f"connect failed: {response.status_code} {response.text}")
        response = http.put(
            "/api/v1/apps/classy/credentials",
            headers=headers,
            json={
                "client_id": client_id or sandbox.client_id,
                "client_secret": client_secret or sandbox.client_secret,
                "organization_id": organization_id,
            },
        )
        if response.status_code != 200:
            raise BenchError(f"saving credentials failed: {response.status_code} {response.text}")


def wait_for_run(service: Service, account: str, *, timeout: float, poll: float = 0.25) -> dict[str, Any]:
    """Poll GET /api/v1/apps/classy/sync-runs until the first run has finished; returns it."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=service.base_url, timeout=30) as http:
        while time.monotonic() < deadline:
            if service.proc.poll() is not None:
                raise BenchError("the service exited during the sync")
            response = http.get("/api/v1/apps/classy/sync-runs?limit=1", headers=service.headers(account))
            items = response.json()["items"] if response.status_code == 200 else []
            if items and items[0]["status"] != "running":
                run: dict[str, Any] = items[0]
                if run["status"] != "succeeded":
                    raise BenchError(f"the sync run ended {run['status']}: {run.get('error')}")
                return run
            time.sleep(poll)
    raise BenchError(f"the sync did not finish within {timeout:.0f} s")


def phase_seconds(service: Service) -> dict[str, float]:
    """The engine's per-phase seconds (Prometheus counter ``classy_sync_phase_seconds_total``)."""
    text = httpx.get(f"{service.base_url}/metrics", timeout=10).text
    phases: dict[str, float] = {}
    for match in re.finditer(r"^classy_sync_phase_seconds_total\{([^}]*)\} ([0-9.e+-]+)$", text, re.M):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        phases[labels["phase"]] = phases.get(labels["phase"], 0.0) + float(match.group(2))
    return phases


def records_of(run: dict[str, Any]) -> int:
    return sum(int(c.get("fetched", 0)) for c in run["streams"].values())


def clear_sandbox_requests(sandbox: SandboxHandle) -> None:
    httpx.delete(f"{sandbox.control_url}/requests", timeout=30)
