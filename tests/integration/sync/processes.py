"""The service as a real subprocess (`uvicorn app.main:app`), for kill and multi-replica tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sandbox.processes import Child, free_port, python_env, spawn
from tests.conftest import ENCRYPTION_KEYS, JWT_SECRET


class ServiceProcess:
    """One service replica on a free loopback port, in its own process group."""

    def __init__(self, database_url: str, data_dir: Path, **env: Any) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = python_env(
            {
                "APP_ENV": "test",
                "DATABASE_URL": database_url,
                "JWT_SECRET": JWT_SECRET,
                "ENCRYPTION_KEYS": ENCRYPTION_KEYS,
                "DATA_DIR": str(data_dir),
                "PUBLIC_URL": self.base_url,
                "LOG_LEVEL": "WARNING",
                **{k: str(v) for k, v in env.items()},
            }
        )
        self.child: Child | None = None

    def start(self, timeout: float = 60.0) -> ServiceProcess:
        args = ["-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(self.port)]
        # The service's logs only when asked for (SERVICE_LOGS=1): stderr is otherwise discarded.
        self.child = spawn("service", args, env=self.env, quiet=not os.environ.get("SERVICE_LOGS"))
        self.child.wait_healthy(f"{self.base_url}/readyz", timeout=timeout)
        return self

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown code runs."""
        if self.child is not None:
            self.child.kill()

    def stop(self, grace: float = 15.0) -> int | None:
        """SIGTERM (graceful shutdown), then SIGKILL if it does not exit in time."""
        return None if self.child is None else self.child.stop(grace)

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
