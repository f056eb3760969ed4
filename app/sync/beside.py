"""Work a run does beside its streams' page writes (contact merges, ANALYZE), one job at a time.

A stream that ran a contact merge (about a second at 10k records) or an ANALYZE inside its page loop
stopped reading for that long: under a rate limit, the request slots it left unused were lost for good
(the run cannot finish before requests ÷ rate), and in an import its own next pages waited. A job
asked for here runs in a task of its own while the streams go on; asked for again while it runs, it
runs once more when it ends. A job's failure is raised to the first stream that looks (`check`) or
to the run's end (`settle`), like a failure of that stream's own write would have been.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable


class BesideJob:
    """One job, run in the background on request, never twice at once."""

    def __init__(self, job: Callable[[], Awaitable[None]], name: str) -> None:
        self._job = job
        self._name = name
        self._task: asyncio.Task[None] | None = None
        self._again = False

    def __repr__(self) -> str:
        return f"BesideJob({self._name})"

    def request(self) -> None:
        """Run the job now, or once more after the running one (raising what a finished one raised)."""
        self.check()
        if self._task is None:
            self._task = asyncio.create_task(self._runs(), name=self._name)
        else:
            self._again = True

    async def _runs(self) -> None:
        while True:
            self._again = False
            await self._job()
            if not self._again:
                return

    def check(self) -> None:
        """Raise the failure of a job that has ended (once: to the first caller that looks)."""
        task = self._task
        if task is not None and task.done():
            self._task = None
            task.result()

    async def settle(self) -> None:
        """Wait for the job (and the runs asked for meanwhile) to end; raise its failure."""
        while (task := self._task) is not None:
            await asyncio.wait({task})
            if self._task is task:
                self._task = None
                task.result()

    async def cancel(self) -> None:
        """Stop a running job (its transaction rolls back) when the run ends without it."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
