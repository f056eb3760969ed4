"""The scheduler on its own thread and event loop: woken, stopped and closed from the API's loop."""

from __future__ import annotations

import asyncio
import os
import sys
import threading

import pytest

from app.sync.scheduler import SyncScheduler

pytestmark = pytest.mark.timeout(20)


class Recorder:
    """A tick that notes where it ran and can launch a job waiting for its stop signal."""

    def __init__(self) -> None:
        self.ticks = 0
        self.threads: set[int] = set()
        self.loops: set[int] = set()
        self.ticked = threading.Event()
        self.job_started = threading.Event()
        self.job_outcome: list[str] = []
        self.launch_job = False

    async def tick(self, scheduler: SyncScheduler) -> None:
        self.ticks += 1
        self.threads.add(threading.get_ident())
        self.loops.add(id(asyncio.get_running_loop()))
        if self.launch_job:
            self.launch_job = False
            scheduler.launch(self.job(scheduler), name="job-7")
        self.ticked.set()

    async def job(self, scheduler: SyncScheduler) -> None:
        stop = scheduler.stop_signals.arm(7)
        self.job_started.set()
        try:
            await asyncio.wait_for(stop.wait(), 10)
            self.job_outcome.append("stopped by its signal")
        except asyncio.CancelledError:
            self.job_outcome.append("cancelled")
            raise
        finally:
            scheduler.stop_signals.disarm(7, stop)


async def wait_for(event: threading.Event, seconds: float = 5.0) -> None:
    assert await asyncio.to_thread(event.wait, seconds), "timed out"


async def test_the_loop_runs_on_its_own_thread_and_a_wake_from_the_api_loop_ticks_at_once() -> None:
    recorder = Recorder()
    scheduler = SyncScheduler(recorder.tick, interval=60.0, enabled=True, own_thread=True)
    await scheduler.start()
    try:
        await wait_for(recorder.ticked)  # the first tick runs at start
        assert recorder.threads and threading.get_ident() not in recorder.threads
        assert id(asyncio.get_running_loop()) not in recorder.loops
        assert scheduler.alive
        recorder.ticked.clear()
        scheduler.wake()  # from this (the API's) loop; the interval alone would wait a minute
        await wait_for(recorder.ticked, 2.0)
        assert recorder.ticks == 2
    finally:
        await scheduler.stop(2.0)
    assert not any(t.name == "sync-scheduler" and t.is_alive() for t in threading.enumerate())


async def test_request_stop_from_the_api_loop_reaches_the_running_job() -> None:
    recorder = Recorder()
    recorder.launch_job = True
    scheduler = SyncScheduler(recorder.tick, interval=60.0, enabled=True, own_thread=True)
    await scheduler.start()
    try:
        await wait_for(recorder.job_started)
        scheduler.request_stop(7)
        for _ in range(100):
            if recorder.job_outcome:
                break
            await asyncio.sleep(0.02)
        assert recorder.job_outcome == ["stopped by its signal"]
    finally:
        await scheduler.stop(2.0)


async def test_stop_cancels_a_job_past_the_grace_and_closes_on_the_scheduler_loop() -> None:
    recorder = Recorder()
    recorder.launch_job = True
    scheduler = SyncScheduler(recorder.tick, interval=60.0, enabled=True, own_thread=True)
    closed_on: list[int] = []

    async def close_pool() -> None:
        closed_on.append(threading.get_ident())

    scheduler.on_shutdown(close_pool)
    await scheduler.start()
    await wait_for(recorder.job_started)
    started = asyncio.get_running_loop().time()
    await scheduler.stop(0.3)
    assert asyncio.get_running_loop().time() - started < 3.0
    assert recorder.job_outcome == ["cancelled"]
    assert closed_on and closed_on[0] in recorder.threads  # after the jobs, on the scheduler's thread
    assert not scheduler.alive


async def test_on_the_api_loop_when_own_thread_is_off() -> None:
    recorder = Recorder()
    scheduler = SyncScheduler(recorder.tick, interval=60.0, enabled=True, own_thread=False)
    await scheduler.start()
    try:
        await wait_for(recorder.ticked)
        assert recorder.threads == {threading.get_ident()}
    finally:
        await scheduler.stop(1.0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
async def test_the_sync_thread_gives_way_to_the_api_threads_for_the_cpu() -> None:
    def nice() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    seen: list[int] = []
    ticked = threading.Event()

    async def tick(scheduler: SyncScheduler) -> None:
        seen.append(nice())
        seen.append(await asyncio.to_thread(nice))  # a thread the sync starts inherits it
        ticked.set()

    api = nice()
    scheduler = SyncScheduler(tick, interval=60.0, enabled=True, own_thread=True, thread_nice=5)
    await scheduler.start()
    try:
        await wait_for(ticked)
        assert seen == [min(api + 5, 19)] * 2
        assert nice() == api  # the API's thread keeps its priority
    finally:
        await scheduler.stop(2.0)
