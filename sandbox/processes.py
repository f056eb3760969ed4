"""Start a Python subprocess, wait until it answers, stop it and everything it started.

One helper for the sandbox subprocess, the benchmark's service, the demo and the process tests, which
used to carry four copies of this. Each child runs in its own session (process group), so a stop reaches
the workers it forked too, and Ctrl-C in a terminal reaches only the parent, which stops its children in
order. Standard library and httpx only: the sandbox imports nothing of the service.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ChildFailed(RuntimeError):
    """A child exited while starting, or did not answer in time (the sentence says which)."""


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def python_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment, with the project on PYTHONPATH (so `-m sandbox` and `app.main` import)."""
    path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **(extra or {})}


@dataclass
class Child:
    """A running subprocess in its own process group."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 15) -> str:
        """The last lines of its log (empty without a log file)."""
        if self.log is None:
            return ""
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def wait_healthy(
        self,
        url: str,
        *,
        timeout: float,
        poll: float = 0.1,
        on_wait: Callable[[float], None] | None = None,
    ) -> float:
        """Wait until GET `url` answers 200; returns the seconds it took.

        Raises `ChildFailed` when the child exits first or `timeout` passes (the child is then stopped).
        `on_wait(elapsed)` is called between attempts (the demo draws a spinner with it).
        """
        started = time.monotonic()
        while True:
            if not self.alive():
                raise ChildFailed(self._explain(f"the {self.name} exited with {self.process.returncode}"))
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2.0).status_code == 200:
                    return time.monotonic() - started
            elapsed = time.monotonic() - started
            if elapsed > timeout:
                self.stop()
                raise ChildFailed(self._explain(f"the {self.name} did not answer within {timeout:.0f} s"))
            if on_wait is not None:
                on_wait(elapsed)
            time.sleep(poll)

    def _explain(self, what: str) -> str:
        tail = self.tail()
        return f"{what}; its log ({self.log}):\n{tail}" if tail else f"{what}."

    def stop(self, grace: float = 10.0, *, group: bool = True) -> int | None:
        """SIGTERM (a graceful shutdown), then SIGKILL what is left after `grace` seconds.

        `group=False` signals only the child itself, when it must stop what it started in its own order
        (the demo's service stops its embedded Postgres last).
        """
        return stop_process(self.process, grace, group=group)

    def kill(self) -> None:
        """SIGKILL the whole group: no shutdown code runs (crash tests)."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def __enter__(self) -> Child:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


def stop_process(process: subprocess.Popen[bytes], grace: float = 10.0, *, group: bool = True) -> int | None:
    """SIGTERM `process` (its whole group by default), then SIGKILL after `grace` seconds; the exit code,
    or None when it had to be killed."""
    if process.poll() is not None:
        return process.returncode

    def send(sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(process.pid, sig)
            else:
                process.send_signal(sig)

    send(signal.SIGTERM)
    try:
        return process.wait(grace)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        process.wait(grace)
        return None


def spawn(
    name: str,
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
    quiet: bool = False,
    cwd: Path = PROJECT_ROOT,
) -> Child:
    """Run `python <args>` in its own session; output goes to `log` (appended), nowhere if `quiet`,
    else to our own stdout/stderr."""
    output: int | None = subprocess.DEVNULL if quiet else None
    handle = log.open("ab") if log is not None else None
    try:
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=cwd,
            env=dict(env) if env is not None else python_env(),
            stdin=subprocess.DEVNULL,
            stdout=handle if handle is not None else output,
            stderr=subprocess.STDOUT if handle is not None else output,
            start_new_session=True,
        )
    finally:
        if handle is not None:
            handle.close()
    return Child(name, process, log)
