"""`make demo`: classy-sync end to end on one machine, without a Classy account.

Starts the Classy sandbox (a generated organization that keeps changing) and the service (embedded
Postgres under DATA_DIR, no DATABASE_URL needed), connects a demo account through the public API
(Connect, then Save credentials), shows the import with a progress bar per stream and a summary table,
prints the admin console URL with a ready admin token, then keeps syncing the sandbox's changes until
Ctrl-C. Only the standard library draws the terminal UI.

    .venv/bin/python scripts/demo.py [--port 8000] [--supporters 20000] [--exit-after-sync] ...
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from app.security.tokens import issue_token  # noqa: E402
from app.settings import Settings  # noqa: E402
from sandbox.processes import Child, ChildFailed, free_port, spawn  # noqa: E402

POLL_SECONDS = 0.3
ACCOUNT, USER, USER_NAME = "demo", "demo-admin", "Demo Admin"
# Sync streams in the order a run reads them, and the sandbox resource each one lists.
STREAMS = {
    "campaigns": "campaigns",
    "supporters": "supporters",
    "recurring_donation_plans": "recurring-donation-plans",
    "transactions": "transactions",
    "registrations": "registrations",
}
LABELS = {
    "campaigns": "Campaigns",
    "supporters": "Supporters",
    "recurring_donation_plans": "Recurring plans",
    "transactions": "Transactions",
    "registrations": "Registrations",
}


class DemoError(RuntimeError):
    """Something the person running the demo should read (printed without a traceback)."""


class Stop(Exception):
    """Ctrl-C (SIGINT) or SIGTERM: stop the children and exit."""


# ------------------------------------------------------------------------------------------ terminal


class Term:
    """Plain output, with colour and in-place redrawing only on a real terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.live = stream.isatty() and os.environ.get("TERM") != "dumb"
        self.color = self.live and "NO_COLOR" not in os.environ
        encoding = (getattr(stream, "encoding", None) or "ascii").lower()
        self.unicode = "utf" in encoding
        self._drawn = 0

    def style(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def bold(self, text: str) -> str:
        return self.style(text, "1")

    def green(self, text: str) -> str:
        return self.style(text, "32")

    def red(self, text: str) -> str:
        return self.style(text, "31")

    def dim(self, text: str) -> str:
        return self.style(text, "2")

    @property
    def tick(self) -> str:
        return self.green("✓" if self.unicode else "OK")

    def line(self, text: str = "") -> None:
        self._drawn = 0
        self.stream.write(text + "\n")
        self.stream.flush()

    def redraw(self, lines: list[str]) -> None:
        """Replace the block drawn last (live terminals only)."""
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F")
        for text in lines:
            self.stream.write("\x1b[2K" + text + "\n")
        self.stream.flush()
        self._drawn = len(lines)

    def keep(self) -> None:
        """What was drawn last stays; the next redraw starts below it."""
        self._drawn = 0

    def bar(self, fraction: float, width: int = 28) -> str:
        fraction = min(max(fraction, 0.0), 1.0)
        filled = round(fraction * width)
        full, empty = ("█", "░") if self.unicode else ("#", ".")
        return self.green(full * filled) + self.dim(empty * (width - filled))


def fmt_int(value: float) -> str:
    return f"{int(value):,}"


def fmt_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def table(rows: list[list[str]], right: set[int]) -> list[str]:
    """Rows (the first is the header) as aligned text with a rule under the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def render(row: list[str]) -> str:
        cells = [
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  " + "   ".join(cells).rstrip()

    rule = "  " + "   ".join("-" * w for w in widths)
    return [render(rows[0]), rule, *(render(r) for r in rows[1:-1]), rule, render(rows[-1])]


# ------------------------------------------------------------------------------------------ HTTP


def http(
    method: str, url: str, *, token: str | None = None, body: Any = None, timeout: float = 30.0
) -> tuple[int, Any]:
    """JSON over HTTP with the standard library; returns (status, decoded body or None)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is fine
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# ------------------------------------------------------------------------------------------ processes


def wait_ready(child: Child, url: str, timeout: float, term: Term, what: str) -> float:
    """Wait for the child to answer (sandbox.processes), with a spinner on a live terminal."""
    spinner = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏" if term.unicode else "|/-\\"
    frames = iter(range(1 << 62))

    def spin(elapsed: float) -> None:
        if term.live:
            term.redraw([f"  {spinner[next(frames) % len(spinner)]} {what} {term.dim(fmt_seconds(elapsed))}"])

    try:
        elapsed = child.wait_healthy(url, timeout=timeout, poll=0.2, on_wait=spin)
    except ChildFailed as exc:
        raise DemoError(str(exc)) from None
    line = f"  {term.tick} {what} {term.dim(fmt_seconds(elapsed))}"
    if term.live:
        term.redraw([line])
        term.keep()
    else:
        term.line(line)
    return elapsed


# ------------------------------------------------------------------------------------------ the demo


@dataclass
class StreamWatch:
    """What the polls saw of one stream: counts, and when it started and stopped moving."""

    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    first_seen: float | None = None
    last_change: float | None = None

    def observe(self, counts: dict[str, int], now: float) -> None:
        fetched = int(counts.get("fetched", 0))
        if fetched != self.fetched:
            if self.first_seen is None:
                self.first_seen = now
            self.last_change = now
        self.fetched = fetched
        self.inserted = int(counts.get("inserted", 0))
        self.updated = int(counts.get("updated", 0))
        self.unchanged = int(counts.get("unchanged", 0))


@dataclass
class Demo:
    args: argparse.Namespace
    term: Term
    data_dir: Path
    children: list[Child] = field(default_factory=list)
    sandbox_url: str = ""
    service_url: str = ""
    token: str = ""
    organization: dict[str, Any] = field(default_factory=dict)

    # -------------------------------------------------------------- setup

    def prepare_data_dir(self) -> None:
        pid_file = self.data_dir / "postgres" / "postmaster.pid"
        if pid_file.exists():
            with contextlib.suppress(ValueError, OSError):
                pid = int(pid_file.read_text().splitlines()[0])
                os.kill(pid, 0)
                raise DemoError(
                    f"a Postgres (pid {pid}) still runs on {self.data_dir}: is another demo running? "
                    "Stop it, or pass --data-dir."
                )
        if not self.args.keep_data and self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def start_sandbox(self) -> None:
        a = self.args
        port = a.sandbox_port or free_port()
        if not port_is_free(port):
            raise DemoError(f"port {port} (sandbox) is in use; pass --sandbox-port")
        self.sandbox_url = f"http://127.0.0.1:{port}"
        sizes = (
            f"{fmt_int(a.supporters)} supporters, {fmt_int(a.transactions)} transactions, "
            f"{fmt_int(a.registrations)} registrations"
        )
        self.term.line(f"{self.term.bold('Classy sandbox')}  {sizes}, changing every {a.churn_interval:g} s")
        child = spawn(
            "Classy sandbox",
            [
                "-m",
                "sandbox",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--quiet",
                "--seed",
                str(a.seed),
                "--organizations",
                "1",
                "--supporters",
                str(a.supporters),
                "--transactions",
                str(a.transactions),
                "--registrations",
                str(a.registrations),
                "--campaigns",
                str(a.campaigns),
                "--plans",
                str(a.plans),
                "--rate-limit",
                str(a.rate_limit),
                "--churn-interval",
                str(a.churn_interval),
            ],
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
            log=self.data_dir / "sandbox.log",
        )
        self.children.append(child)
        wait_ready(
            child, f"{self.sandbox_url}/_sandbox/health", 300, self.term, "generating the organization"
        )
        self.organization = self.sandbox_config()["organizations"][0]
        self.term.line(f"  organization {self.organization['id']} {self.organization['name']!r}")

    def sandbox_config(self) -> dict[str, Any]:
        status, body = http("GET", f"{self.sandbox_url}/_sandbox/config")
        if status != 200 or not isinstance(body, dict):
            raise DemoError(f"the sandbox's /_sandbox/config answered {status}")
        return body

    def service_env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("CLASSY_", "SCHEDULER_", "SYNC_"))
        }
        env.update(
            {
                "PYTHONPATH": str(PROJECT_ROOT),
                "APP_ENV": "demo",
                "DATA_DIR": str(self.data_dir),
                # Empty (not just unset) so that a developer's .env cannot point the demo elsewhere.
                "DATABASE_URL": "",
                "JWT_SECRET": "",
                "ENCRYPTION_KEYS": "",
                "FRONTEND_URL": "",
                "PUBLIC_URL": self.service_url,
                "CLASSY_API_URL": f"{self.sandbox_url}/2.0",
                "CLASSY_TOKEN_URL": f"{self.sandbox_url}/oauth2/auth",
                "CLASSY_AUTHORIZE_URL": f"{self.sandbox_url}/authorize",
                "CLASSY_AUTH_FLOW": "client_credentials",
                "CLASSY_RATE_LIMIT_PER_MINUTE": str(self.args.rate_limit or 1_000_000),
                "SYNC_INTERVAL_SECONDS": str(self.args.sync_interval),
                "SCHEDULER_ENABLED": "true",
                "SCHEDULER_TICK_SECONDS": "1",
                "LOG_LEVEL": "WARNING",
            }
        )
        return env

    def start_service(self) -> None:
        port = self.args.port
        if not port_is_free(port):
            raise DemoError(
                f"port {port} is in use (another service or demo?); pass --port, e.g. --port 8010"
            )
        self.service_url = f"http://127.0.0.1:{port}"
        self.term.line(
            f"{self.term.bold('classy-sync')}     {self.service_url} (embedded Postgres in {self.data_dir})"
        )
        child = spawn(
            "service",
            [
                "-m",
                "uvicorn",
                "app.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=self.service_env(),
            log=self.data_dir / "service.log",
        )
        self.children.append(child)
        wait_ready(child, f"{self.service_url}/readyz", 300, self.term, "starting Postgres and the service")
        settings = Settings(_env_file=None, APP_ENV="demo", DATA_DIR=self.data_dir)
        self.token = issue_token(
            settings.jwt_secret_value(),
            sub=USER,
            account=ACCOUNT,
            role="admin",
            name=USER_NAME,
            ttl=timedelta(hours=self.args.token_hours),
        )

    def api(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = http(method, f"{self.service_url}{path}", token=self.token, body=body)
        if status >= 400:
            detail = answer.get("detail") if isinstance(answer, dict) else answer
            raise DemoError(f"{method} {path} answered {status}: {detail}")
        return answer

    def connect(self) -> None:
        """The real flow: Connect, then Save the Classy app's credentials (checked against Classy)."""
        app = self.sandbox_config()["apps"][0]
        current = self.api("GET", "/api/v1/apps/classy")
        if current["status"] in ("connected", "error", "paused"):
            self.term.line(f"  {self.term.tick} already {current['status']} (--keep-data)")
            if current["status"] == "paused":
                self.api("POST", "/api/v1/apps/classy/resume")
            return
        credentials = {
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "organization_id": self.organization["id"],
        }
        if current["status"] == "disconnected":
            self.api("POST", "/api/v1/apps/classy/reconnect", credentials)
        else:
            self.api("POST", "/api/v1/apps/classy/connect")
            self.api("PUT", "/api/v1/apps/classy/credentials", credentials)
        self.term.line(
            f"  {self.term.tick} connected account {ACCOUNT!r} as {USER} "
            f"(POST …/connect, PUT …/credentials with client_id {app['client_id']!r})"
        )

    def setup_webhook(self) -> None:
        """As an admin would: save a signing secret, paste the URL into Classy (here: the sandbox)."""
        if self.args.no_webhook:
            return
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        url = self.api("PUT", "/api/v1/apps/classy/webhook", {"secret": secret})["url"]
        hook = {"url": url, "secret": secret, "organization_ids": [self.organization["id"]]}
        status, answer = http("POST", f"{self.sandbox_url}/_sandbox/webhooks", body=hook)
        if status != 201:
            raise DemoError(f"the sandbox refused the webhook endpoint: {status} {answer}")
        self.term.line(
            f"  {self.term.tick} webhook: the sandbox delivers signed events to {url} "
            "(PUT …/webhook); each change starts a sync within seconds"
        )

    # -------------------------------------------------------------- the import

    def latest_run(self) -> dict[str, Any] | None:
        items = self.api("GET", "/api/v1/apps/classy/sync-runs?limit=1")["items"]
        return items[0] if items else None

    def totals(self) -> dict[str, int]:
        counts = self.sandbox_config()["organizations"][0]["counts"]
        return {stream: int(counts.get(resource, 0)) for stream, resource in STREAMS.items()}

    def progress_lines(
        self,
        run: dict[str, Any] | None,
        watches: dict[str, StreamWatch],
        totals: dict[str, int],
        started: float,
    ) -> list[str]:
        term = self.term
        elapsed = time.monotonic() - started
        fetched = sum(w.fetched for w in watches.values())
        head = (
            f"  Importing: {fmt_int(fetched)} of {fmt_int(sum(totals.values()))} records, "
            f"{fmt_seconds(elapsed)}, {fmt_int(fetched / elapsed if elapsed > 0 else 0)} records/s"
            if run
            else f"  Waiting for the first sync to start… {fmt_seconds(elapsed)}"
        )
        lines = [head]
        for stream in STREAMS:
            watch, total = watches[stream], max(totals[stream], 1)
            fraction = watch.fetched / total
            lines.append(
                f"  {LABELS[stream]:<16} {term.bar(fraction)} {min(fraction, 1.0) * 100:5.1f}%  "
                f"{fmt_int(watch.fetched):>8} / {fmt_int(totals[stream])}"
            )
        return lines

    def watch_import(self) -> dict[str, Any]:
        """Poll the newest sync run until it finishes: bars on a terminal, else lines every 5 s."""
        term = self.term
        watches = {stream: StreamWatch() for stream in STREAMS}
        totals = self.totals()
        started = time.monotonic()
        last_print = 0.0
        last_totals = started
        deadline = started + self.args.timeout
        run: dict[str, Any] | None = None
        term.line()
        while True:
            now = time.monotonic()
            self.check_children()
            run = self.latest_run()
            if run is not None:
                for stream, counts in (run.get("streams") or {}).items():
                    if stream in watches:
                        watches[stream].observe(counts, now)
            if now - last_totals > 2:
                totals, last_totals = self.totals(), now  # the sandbox keeps adding records
            finished = run is not None and run["status"] != "running"
            if term.live:
                term.redraw(self.progress_lines(run, watches, totals, started))
            elif finished or now - last_print >= 5:
                last_print = now
                for text in self.progress_lines(run, watches, totals, started):
                    term.line(text)
            if finished:
                assert run is not None
                break
            if now > deadline:
                raise DemoError(f"the first sync did not finish within {self.args.timeout:.0f} s")
            time.sleep(POLL_SECONDS)
        term.line()
        if run["status"] != "succeeded":
            raise DemoError(f"the first sync {run['status']}: {run.get('error')}")
        self.print_summary(run, watches)
        return run

    def print_summary(self, run: dict[str, Any], watches: dict[str, StreamWatch]) -> None:
        term = self.term
        start = datetime.fromisoformat(run["started_at"])
        end = datetime.fromisoformat(run["finished_at"]) if run.get("finished_at") else datetime.now(UTC)
        total_seconds = max((end - start).total_seconds(), 0.001)
        approx = "≈" if term.unicode else "~"
        rows = [["Stream", "Records", "New", "Updated", "Unchanged", "Time", "Records/s"]]
        streams = run.get("streams") or {}
        for stream in STREAMS:
            counts = streams.get(stream, {})
            watch = watches[stream]
            seconds = 0.0  # as the polls saw it: from the first count to the last change
            if watch.first_seen is not None and watch.last_change is not None:
                seconds = watch.last_change - watch.first_seen + POLL_SECONDS
            fetched = int(counts.get("fetched", 0))
            rows.append(
                [
                    LABELS[stream],
                    fmt_int(fetched),
                    fmt_int(counts.get("inserted", 0)),
                    fmt_int(counts.get("updated", 0)),
                    fmt_int(counts.get("unchanged", 0)),
                    "<1 s" if seconds < 1 else f"{approx}{fmt_seconds(seconds)}",
                    fmt_int(fetched / seconds) if seconds >= 1 else "—",
                ]
            )
        total = sum(int(streams.get(s, {}).get("fetched", 0)) for s in STREAMS)
        rows.append(
            [
                "Total",
                fmt_int(total),
                fmt_int(sum(int(streams.get(s, {}).get("inserted", 0)) for s in STREAMS)),
                fmt_int(sum(int(streams.get(s, {}).get("updated", 0)) for s in STREAMS)),
                fmt_int(sum(int(streams.get(s, {}).get("unchanged", 0)) for s in STREAMS)),
                fmt_seconds(total_seconds),
                fmt_int(total / total_seconds),
            ]
        )
        for text in table(rows, right={1, 2, 3, 4, 5, 6}):
            term.line(text)
        term.line()
        term.line(
            f"{term.tick} {term.bold('synced')}: {fmt_int(total)} records of organization "
            f"{self.organization['id']} in {fmt_seconds(total_seconds)} "
            f"({fmt_int(total / total_seconds)} records/s), run {run['id']} ({run['trigger']})."
        )

    def print_console(self) -> None:
        term = self.term
        term.line()
        term.line(term.bold("Admin console (opens signed in as Demo Admin):"))
        term.line(f"  {self.service_url}/console#token={self.token}")
        term.line(
            term.dim(f"  API docs: {self.service_url}/docs   curl: -H 'Authorization: Bearer <token above>'")
        )
        term.line(term.dim(f"  logs: {self.data_dir}/service.log, {self.data_dir}/sandbox.log"))

    # -------------------------------------------------------------- afterwards

    def follow(self, last_id: int) -> None:
        term = self.term
        term.line()
        term.line(
            f"Watching: the sandbox changes supporters and transactions every {self.args.churn_interval:g} s;"
            " "
            + (
                f"the service syncs every {self.args.sync_interval} s"
                if self.args.no_webhook
                else f"its webhook events start 'webhook' syncs (polling: every {self.args.sync_interval} s)"
            )
            + ". Press Ctrl-C to stop."
        )
        while True:
            self.check_children()
            items = self.api("GET", "/api/v1/apps/classy/sync-runs?limit=20")["items"]
            for run in sorted(items, key=lambda r: r["id"]):
                if run["id"] <= last_id or run["status"] == "running":
                    continue
                last_id = run["id"]
                term.line(self.run_line(run))
            time.sleep(1.0)

    def run_line(self, run: dict[str, Any]) -> str:
        term = self.term
        start = datetime.fromisoformat(run["started_at"])
        end = datetime.fromisoformat(run["finished_at"]) if run.get("finished_at") else start
        parts = []
        streams = run.get("streams") or {}
        for stream in sorted(streams, key=lambda s: list(STREAMS).index(s) if s in STREAMS else len(STREAMS)):
            counts = streams[stream]
            if counts.get("inserted") or counts.get("updated"):
                parts.append(
                    f"{LABELS.get(stream, stream).lower()} +{counts.get('inserted', 0)} new "
                    f"~{counts.get('updated', 0)} updated"
                )
        what = ", ".join(parts) or "no changes"
        mark = term.tick if run["status"] == "succeeded" else term.red("x")
        stamp = end.astimezone().strftime("%H:%M:%S")
        line = (
            f"  {mark} {stamp}  {run['trigger']} sync {run['status']} in "
            f"{fmt_seconds((end - start).total_seconds())}: {what}"
        )
        return f"{line} ({run['error']})" if run.get("error") else line

    def check_children(self) -> None:
        for child in self.children:
            if not child.alive():
                raise DemoError(
                    f"the {child.name} stopped unexpectedly (exit {child.process.returncode}); "
                    f"its log ({child.log}):\n{child.tail()}"
                )

    def stop(self) -> None:
        """The service, its embedded Postgres, then the sandbox."""
        for child in reversed(self.children):
            # Only the child itself: the service stops its embedded Postgres, then we make sure of it.
            child.stop(20.0, group=False)
            if child.name == "service":
                stop_postgres(self.data_dir / "postgres")
        self.children.clear()


def stop_postgres(pgdata: Path, timeout: float = 15.0) -> None:
    """Fallback: stop the embedded Postgres if it outlived the service (its exit hook may not run when
    uvicorn ends on a re-raised SIGTERM): a fast shutdown via postmaster.pid. No-op when it is gone."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGQUIT)


# ------------------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scripts/demo.py", description=__doc__.split("\n\n")[1])
    p.add_argument("--port", type=int, default=8000, help="port of the service (default 8000)")
    p.add_argument(
        "--sandbox-port", type=int, default=0, help="port of the Classy sandbox (default: a free one)"
    )
    p.add_argument("--supporters", type=int, default=20_000)
    p.add_argument("--transactions", type=int, default=40_000)
    p.add_argument("--registrations", type=int, default=5_000)
    p.add_argument("--campaigns", type=int, default=12)
    p.add_argument("--plans", type=int, default=400, help="recurring donation plans")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--churn-interval", type=float, default=10.0, help="seconds between sandbox changes")
    p.add_argument("--sync-interval", type=int, default=30, help="SYNC_INTERVAL_SECONDS of the service")
    p.add_argument(
        "--rate-limit",
        type=int,
        default=0,
        help="requests/minute the sandbox allows (Classy's is 1800; default 0 = unlimited, a quicker demo)",
    )
    p.add_argument("--data-dir", type=Path, default=PROJECT_ROOT / ".data" / "demo")
    p.add_argument(
        "--keep-data", action="store_true", help="reuse the demo database instead of starting afresh"
    )
    p.add_argument("--timeout", type=float, default=900.0, help="seconds allowed for the first sync")
    p.add_argument("--token-hours", type=float, default=24.0, help="lifetime of the printed admin token")
    p.add_argument(
        "--no-webhook", action="store_true", help="do not register the service's webhook in the sandbox"
    )
    p.add_argument(
        "--exit-after-sync",
        "--no-wait",
        dest="exit_after_sync",
        action="store_true",
        help="stop after the first sync succeeded and its summary was printed (CI, scripted checks)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    term = Term(sys.stdout)
    demo = Demo(args, term, args.data_dir.resolve())

    def on_stop_signal(*_: object) -> None:
        raise Stop

    signal.signal(signal.SIGTERM, on_stop_signal)
    signal.signal(signal.SIGINT, on_stop_signal)  # Ctrl-C, even where a parent shell ignored SIGINT
    started = time.monotonic()
    try:
        term.line(term.bold("classy-sync demo") + term.dim("  (Ctrl-C stops everything)"))
        if not port_is_free(args.port):
            raise DemoError(f"port {args.port} is in use (another service or demo?); pass e.g. --port 8010")
        demo.prepare_data_dir()
        demo.start_sandbox()
        demo.start_service()
        demo.connect()
        run = demo.watch_import()
        demo.setup_webhook()
        demo.print_console()
        if args.exit_after_sync:
            term.line(term.dim(f"--exit-after-sync: done in {fmt_seconds(time.monotonic() - started)}"))
            return 0
        demo.follow(run["id"])
        return 0
    except (KeyboardInterrupt, Stop):
        term.line()
        term.line("Stopping…")
        return 0
    except DemoError as exc:
        term.line(term.red(f"demo failed: {exc}"))
        return 1
    finally:
        with contextlib.suppress(KeyboardInterrupt, Stop):
            demo.stop()
        if not args.exit_after_sync:
            term.line("Stopped the service, its Postgres and the sandbox.")


if __name__ == "__main__":
    sys.exit(main())
