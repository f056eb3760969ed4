"""A throwaway Postgres cluster that a test may crash: its own data directory, port and processes.

Never the shared server on 5432. `crash()` is `pg_ctl stop -m immediate` (every server process exits at
once, as on an OOM kill or a failover: no checkpoint, nothing flushed); `start()` runs crash recovery.
As root (a container), the server runs as the `postgres` system user, which initdb requires.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


def available() -> bool:
    return (BIN / "initdb").exists() and (os.geteuid() != 0 or _user_exists("postgres"))


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ThrowawayCluster:
    """initdb in a temporary directory; `url(database)` for asyncpg; removed by `destroy()`."""

    def __init__(self, **settings: str) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="classy-sync-crash-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.settings = settings
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(
            [*self._as_user, *args], check=True, timeout=timeout, capture_output=True, cwd=self.root
        )

    def init(self) -> ThrowawayCluster:
        self._run(str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        lines = [
            f"port = {self.port}",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{self.root}'",
            "max_connections = 100",
            "fsync = off",  # a process crash, not a power cut: what the OS has is kept either way
            "full_page_writes = off",
            "shared_buffers = 64MB",
            *(f"{key} = {value}" for key, value in self.settings.items()),
        ]
        with (self.data / "postgresql.auto.conf").open("a") as conf:
            conf.write("\n".join(lines) + "\n")
        return self

    def start(self, timeout: float = 30) -> None:
        self._run(
            str(BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
            timeout=timeout,
        )

    def crash(self) -> None:
        """Every server process exits at once; acknowledged commits not yet written are gone."""
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "stop", "-m", "immediate", "-w")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def destroy(self) -> None:
        if self.running():
            try:
                self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "stop", "-m", "immediate", "-w")
            except subprocess.SubprocessError:
                pass
        time.sleep(0.1)
        shutil.rmtree(self.root, ignore_errors=True)
