"""Run the sandbox for tests and benchmarks.

- ``run_sandbox(config)``: a context manager that serves a fresh ``SandboxStore`` with uvicorn on
  127.0.0.1 (free port) in a background **thread** and yields a ``SandboxHandle`` (with ``store``).
- ``async_sandbox(config)``: the same as an async context manager (start/stop off the event loop).
- ``run_sandbox_subprocess(*cli_args)``: starts ``python -m sandbox`` in a **subprocess** (its own
  GIL, for benchmarks; started through ``sandbox.processes``); the handle's ``store`` is None, use the
  ``/_sandbox`` control API instead.

Each waits until ``/_sandbox/health`` answers and shuts down within a bounded time.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import uvicorn

from sandbox.app import create_sandbox_app
from sandbox.processes import free_port, python_env, spawn
from sandbox.store import SandboxConfig, SandboxStore


@dataclass
class SandboxHandle:
    """Where a running sandbox answers, and how to log in."""

    base_url: str
    client_id: str
    client_secret: str
    organization_ids: list[int]
    store: SandboxStore | None = None
    member_username: str = "member@example.org"
    member_password: str = "password"
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/2.0"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth2/auth"

    @property
    def authorize_url(self) -> str:
        return f"{self.base_url}/authorize"

    @property
    def control_url(self) -> str:
        return f"{self.base_url}/_sandbox"


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _wait_healthy(base_url: str, timeout: float, alive: threading.Thread) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive.is_alive():
            raise RuntimeError("sandbox server exited during startup")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/_sandbox/health", timeout=1.0).status_code == 200:
                return
        time.sleep(0.05)
    raise TimeoutError(f"sandbox at {base_url} did not answer within {timeout} s")


@contextlib.contextmanager
def run_sandbox(
    config: SandboxConfig | None = None, *, startup_timeout: float = 60.0, shutdown_timeout: float = 5.0
) -> Iterator[SandboxHandle]:
    """Serve a new sandbox in a background thread; yields its handle."""
    cfg = config or SandboxConfig()
    store = SandboxStore(cfg)
    sock = _free_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_sandbox_app(store),
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=1,
            access_log=False,
        )
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="classy-sandbox", daemon=True
    )
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, startup_timeout, thread)
        yield SandboxHandle(
            base,
            cfg.client_id,
            cfg.client_secret,
            list(store.orgs),
            store,
            cfg.member_username,
            cfg.member_password,
        )
    finally:
        server.should_exit = True
        thread.join(shutdown_timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(shutdown_timeout)
        sock.close()


@contextlib.asynccontextmanager
async def async_sandbox(config: SandboxConfig | None = None, **kwargs: float) -> AsyncIterator[SandboxHandle]:
    """``run_sandbox`` for async code: start and stop run in a worker thread."""
    import asyncio

    manager = run_sandbox(config, **kwargs)
    handle = await asyncio.to_thread(manager.__enter__)
    try:
        yield handle
    finally:
        await asyncio.to_thread(manager.__exit__, None, None, None)


@contextlib.contextmanager
def run_sandbox_subprocess(
    *cli_args: str, startup_timeout: float = 120.0, shutdown_timeout: float = 10.0
) -> Iterator[SandboxHandle]:
    """Run ``python -m sandbox <cli_args>`` on a free port; yields its handle (``store`` is None)."""
    port = free_port()
    args = ["-m", "sandbox", "--host", "127.0.0.1", "--port", str(port), "--quiet", *cli_args]
    child = spawn("Classy sandbox", args, env=python_env())
    base = f"http://127.0.0.1:{port}"
    try:
        child.wait_healthy(f"{base}/_sandbox/health", timeout=startup_timeout, poll=0.05)
        cfg = httpx.get(f"{base}/_sandbox/config", timeout=10).json()
        app = cfg["apps"][0]
        member = cfg["members"][0]
        yield SandboxHandle(
            base,
            app["client_id"],
            app["client_secret"],
            [o["id"] for o in cfg["organizations"]],
            None,
            member["username"],
            member["password"],
            {"pid": child.pid},
        )
    finally:
        child.stop(shutdown_timeout)
