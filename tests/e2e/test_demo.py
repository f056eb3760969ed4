"""`make demo --exit-after-sync` on a small organization: sandbox, embedded Postgres and the service start,
the demo account connects through the API, the first sync succeeds and the summary is printed."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys

import pytest

from tests.e2e.conftest import PROJECT_ROOT


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.slow
def test_demo_reaches_synced_and_prints_its_summary() -> None:
    data_dir = PROJECT_ROOT / ".data" / f"demo-test-{os.getpid()}"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PYTEST_CURRENT_TEST")}
    try:
        result = subprocess.run(
            [
                sys.executable,
                str(PROJECT_ROOT / "scripts" / "demo.py"),
                "--port",
                str(port),
                "--supporters",
                "600",
                "--transactions",
                "1200",
                "--registrations",
                "150",
                "--campaigns",
                "3",
                "--plans",
                "30",
                "--data-dir",
                str(data_dir),
                "--timeout",
                "120",
                "--exit-after-sync",
            ],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert re.search(r"synced: [\d,]+ records of organization \d+", output), output
        for stream in ("Supporters", "Transactions", "Registrations", "Total"):
            assert re.search(rf"^\s+{stream}\s+[\d,]+", output, re.MULTILINE), output
        assert re.search(rf"http://127\.0\.0\.1:{port}/console#token=[\w-]+\.[\w-]+\.[\w-]+", output), output
        assert re.search(
            rf"webhook: the sandbox delivers signed events to http://127\.0\.0\.1:{port}/webhooks/", output
        )
        assert "\x1b[" not in output  # no terminal codes when the output is not a terminal
        # Everything it started has stopped: its port is free again and its Postgres is gone.
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
        assert not (data_dir / "postgres" / "postmaster.pid").exists()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
