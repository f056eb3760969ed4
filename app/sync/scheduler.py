"""In-process scheduler: an asyncio loop that claims due integrations and syncs them.

Start/stop are idempotent and bounded in time so the service shuts down cleanly on SIGTERM.

By default the scheduler runs its loop on a thread of its own (`SYNC_OWN_THREAD`). Sharing the
API's event loop, every await of an API request queued behind whatever sync callbacks were ready
(page parsing, statement building): measured at medium scale, the API's p99 under an import was 3x
what it was with the sync out of the way. On its own loop the sync gives the API the interpreter at
least every `switchinterval`; both loops stay in this one process. Only `wake`, `request_stop` and
`alive` are called from the API's thread, and they are safe to call from any thread.

On Linux the thread also runs at a lower CPU priority (`SYNC_THREAD_NICE`): during an import every core
is busy, and a woken API thread should get one before the sync's next page does. Measured at medium
scale (bench/HISTORY.md, round six, 7-8 imports each way), nice 10 cut the API's p99 under an import by
about a quarter on `/apps/classy` and 10-15% on `/donations`, its p50 by 10-20%; the import took 2% longer,
within the runs' spread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from app.db.outage import is_database_outage
from app.logging import describe_exception
from app.metrics import SCHEDULER_TICKS

logger = logging.getLogger(__name__)

TickFunction = Callable[["SyncScheduler"], Awaitable[None]]
ShutdownHook = Callable[[], Awaitable[None]]

# How often the interpreter hands the GIL from a busy sync thread to the API's (Python's default is 5 ms).
SWITCH_INTERVAL_SECONDS = 0.001
_THREAD_START_SECONDS = 10.0


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

    def __init__(
        self,
        tick: TickFunction | None,
        *,
        interval: float,
        enabled: bool,
        own_thread: bool = False,
        thread_nice: int = 0,
    ) -> None:
        self._tick = tick
        self.interval = interval
        self.enabled = enabled
        self.own_thread = own_thread
        self.thread_nice = thread_nice
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop the scheduler runs on
        self._shutdown_hooks: list[ShutdownHook] = []
        self._closed = asyncio.Event()
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.last_tick_at: float | None = None
        self.running_jobs: set[asyncio.Task[Any]] = set()
        # Running syncs that must stop now (pause, disconnect): their in-flight request is abandoned.
        self.stop_signals = StopSignals()

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop the syncs run on while started; the sync's pool belongs to it and to no other."""
        return self._loop

    def set_tick(self, tick: TickFunction) -> None:
        self._tick = tick

    def on_shutdown(self, hook: ShutdownHook) -> None:
        """Run `hook` on the scheduler's loop after its jobs have ended (closing the sync's pool:
        asyncpg connections belong to the loop that opened them)."""
        self._shutdown_hooks.append(hook)

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
        self._on_scheduler_loop(self.stop_signals.request, integration_id)

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
        self._on_scheduler_loop(self._wake.set)

    def _on_scheduler_loop(self, action: Callable[..., object], *args: object) -> None:
        """Call `action` on the scheduler's loop: at once when already there (or not started),
        else handed over thread-safely (asyncio events must be set by their own loop)."""
        loop = self._loop
        if loop is None or _running_loop() is loop:
            action(*args)
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed: nothing is left to wake
            loop.call_soon_threadsafe(action, *args)

    async def start(self) -> None:
        if not self.enabled or self._task is not None or self._thread is not None:
            return
        self._stopping.clear()
        if not self.own_thread:
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.create_task(self._run(), name="sync-scheduler")
            return
        started = threading.Event()
        self._thread = threading.Thread(
            target=self._thread_main, args=(started,), name="sync-scheduler", daemon=True
        )
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        self._thread.start()
        if not await asyncio.to_thread(started.wait, _THREAD_START_SECONDS):
            raise RuntimeError("the sync scheduler's thread did not start")

    def _thread_main(self, started: threading.Event) -> None:
        """The scheduler thread: its own event loop, until `stop` ends the scheduler."""
        lower_this_threads_priority(self.thread_nice)

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._closed = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="sync-scheduler")
            started.set()
            await self._closed.wait()  # set by `stop` once the jobs have ended and the hooks ran

        asyncio.run(main())

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Stop claiming work, let running jobs reach a page boundary, then cancel what is left
        (on the scheduler's own loop), close what `on_shutdown` registered, and end its thread."""
        loop, thread = self._loop, self._thread
        if thread is None or loop is None:
            await self._stop_here(grace_seconds)
            await self._run_shutdown_hooks()
            return
        handed = asyncio.run_coroutine_threadsafe(self._stop_and_close(grace_seconds), loop)
        with contextlib.suppress(Exception):  # described by the scheduler's own log
            await asyncio.wrap_future(handed)
        await asyncio.to_thread(thread.join, grace_seconds + 5.0)
        self._thread = None
        self._loop = None

    async def _stop_and_close(self, grace_seconds: float) -> None:
        try:
            await self._stop_here(grace_seconds)
            await self._run_shutdown_hooks()
        finally:
            self._closed.set()

    async def _run_shutdown_hooks(self) -> None:
        for hook in self._shutdown_hooks:
            try:
                await hook()
            except Exception as exc:  # a failed close must not keep the service from stopping
                logger.warning("sync shutdown step failed", extra={"error": describe_exception(exc)})

    async def _stop_here(self, grace_seconds: float = 5.0) -> None:
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

    async def _run(self) -> None:
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


def lower_this_threads_priority(steps: int) -> None:
    """Raise the calling thread's nice value by `steps` (at most to 19); threads it starts inherit it.

    Linux schedules each thread on its own, so this leaves the API's threads as they are. Elsewhere, or
    where the system refuses, the thread keeps its priority: it only ever gives CPU away.
    """
    if steps <= 0 or not sys.platform.startswith("linux"):
        return
    thread = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(current + steps, 19))
    except OSError as exc:
        logger.info("the sync thread keeps its CPU priority: %s", describe_exception(exc))


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
