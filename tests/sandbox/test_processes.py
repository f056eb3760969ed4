"""The one subprocess helper: start, wait until healthy, stop the whole group, explain failures."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from sandbox.processes import ChildFailed, free_port, spawn

SERVE = (
    "import http.server, sys\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self): self.send_response(200); self.end_headers()\n"
    "    def log_message(self, *a): pass\n"
    "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n"
)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_healthy_child_then_group_stop(tmp_path: Path) -> None:
    port = free_port()
    grandchild_pid = tmp_path / "grandchild.pid"
    # The child forks a grandchild (as uvicorn workers or pg_ctl would); a stop must reach it too.
    script = (
        "import subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(grandchild_pid)!r}, 'w').write(str(p.pid))\n" + SERVE
    )
    with spawn("test server", ["-c", script, str(port)], quiet=True) as child:
        waited = child.wait_healthy(f"http://127.0.0.1:{port}/", timeout=20)
        assert 0 <= waited < 20 and child.alive()
        grandchild = int(grandchild_pid.read_text())
    assert not child.alive()
    deadline = time.monotonic() + 5
    while not _gone(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(grandchild), "the grandchild outlived the stop"


def test_child_that_exits_is_explained_with_its_log(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    child = spawn("broken thing", ["-c", "import sys; print('no config'); sys.exit(3)"], log=log)
    with pytest.raises(ChildFailed, match=r"(?s)the broken thing exited with 3.*no config"):
        child.wait_healthy(f"http://127.0.0.1:{free_port()}/", timeout=20)


def test_child_that_never_answers_is_stopped() -> None:
    child = spawn("silent thing", ["-c", "import time; time.sleep(60)"], quiet=True)
    with pytest.raises(ChildFailed, match="did not answer within 1 s"):
        child.wait_healthy(f"http://127.0.0.1:{free_port()}/", timeout=1)
    assert not child.alive()
