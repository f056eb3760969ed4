"""In-process scheduler: an asyncio loop that claims due integrations and syncs them.

Start/stop are idempotent and bounded in time so the service shuts down cleanly on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from app.db.outage import is_database_outage
from app.logging import describe_exception
from app.metrics import SCHEDULER_TICKS

logger = logging.getLogger(__name__)

TickFunction = Callable[["SyncScheduler"], Awaitable[None]]


class StopSignals:
    """One event per running sync; setting it stops that sync, even in the middle of a retry wait."""

    def __init__(self) -> None:
        self._events: dict[int, asyncio.Event] = {}

    def arm(self, integration_id: int) -> asyncio.Event:
        """A fresh signal for a run that starts now (an older stop request does not carry over)."""
        event = self._events[integration_id] = asyncio.Event()
        return event

    def disarm(self, integration_id: int, event: asyncio.Event) -> None:
        if self._events.get(integration_id) is event:
            del self._events[integration_id]

    def request(self, integration_id: int) -> None:
        event = self._events.get(integration_id)
        if event is not None:
            event.set()


class SyncScheduler:
    """Runs `tick` every `interval` seconds (or sooner when woken) until stopped."""

    def __init__(self, tick: TickFunction | None, *, interval: float, enabled: bool) -> None:
        self._tick = tick
        self.interval = interval
        self.enabled = enabled
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.last_tick_at: float | None = None
        self.running_jobs: set[asyncio.Task[Any]] = set()
        # Running syncs that must stop now (pause, disconnect): their in-flight request is abandoned.
        self.stop_signals = StopSignals()

    def set_tick(self, tick: TickFunction) -> None:
        self._tick = tick

    def launch(self, job: Coroutine[Any, Any, Any], *, name: str) -> None:
        """Run a job in the background; when it ends, look for more work at once."""
        task = asyncio.create_task(job, name=name)
        self.running_jobs.add(task)

        def done(finished: asyncio.Task[Any]) -> None:
            self.running_jobs.discard(finished)
            error = None if finished.cancelled() else finished.exception()
            if error is not None:  # described without its message, which may quote donor data
                logger.error("sync job failed", extra={"job": name, "error": describe_exception(error)})
            self.wake()

        task.add_done_callback(done)

    def request_stop(self, integration_id: int) -> None:
        """Stop a running sync of this integration in this process before it makes another request."""
        self.stop_signals.request(integration_id)

    @property
    def alive(self) -> bool:
        """True when disabled on purpose, or when the loop is running and ticked recently."""
        if not self.enabled:
            return True
        if self._task is None or self._task.done():
            return False
        return self.last_tick_at is None or time.monotonic() - self.last_tick_at < max(
            60.0, self.interval * 5
        )

    def wake(self) -> None:
        """Make the loop look for work now (after connect/resume/manual sync)."""
        self._wake.set()

    async def start(self) -> None:
        if self.enabled and self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._loop(), name="sync-scheduler")

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Stop claiming work, let running jobs reach a page boundary, then cancel what is left.

        Everything is bounded by one deadline (`grace_seconds`, plus at most a second for cancelled
        jobs to record their state), so a stop fits in Docker's default 10 s stop timeout together
        with the HTTP server's own graceful shutdown.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_seconds
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, max(0.0, deadline - loop.time()))
            self._task = None
        if self.running_jobs:
            _, pending = await asyncio.wait(self.running_jobs, timeout=max(0.0, deadline - loop.time()))
            for job in pending:
                job.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            self.last_tick_at = time.monotonic()
            SCHEDULER_TICKS.inc()
            # Cleared before the tick: a wake that arrives during it (a webhook's run falling due)
            # makes the next tick start at once instead of being lost until the interval ends.
            self._wake.clear()
            if self._tick is not None:
                try:
                    await self._tick(self)
                except Exception as exc:  # the loop must survive any one bad tick (and a database outage)
                    if is_database_outage(exc):
                        logger.warning("scheduler tick skipped: the database is unavailable")
                    else:
                        logger.exception("scheduler tick failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
