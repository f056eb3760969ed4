"""Run an async iterator ahead of its consumer, so fetching overlaps with writing.

`prefetch_runs` hands the consumer everything fetched while it was busy, in one list: a writer
that fell behind then writes several pages in one transaction instead of one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TypeVar

T = TypeVar("T")
_END = object()


async def prefetch_runs(source: AsyncIterator[T], *, depth: int, most: int) -> AsyncIterator[list[T]]:
    """Yield `source`'s items in order, in lists: the next item (waited for) and the ones already
    fetched behind it, up to `most`. The producer runs up to `depth` items ahead of the consumer.

    A failure of the source is raised after the items fetched before it have been yielded.
    """
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=depth)

    async def produce() -> None:
        try:
            async for item in source:
                await queue.put(item)
            await queue.put(_END)
        except Exception as exc:  # handed to the consumer, which re-raises it
            await queue.put(exc)

    task = asyncio.create_task(produce())
    try:
        ended: object = None
        while ended is None:
            run: list[T] = []
            item = await queue.get()
            while True:
                if item is _END or isinstance(item, BaseException):
                    ended = item
                    break
                run.append(item)  # type: ignore[arg-type]
                if len(run) >= most or queue.empty():
                    break
                item = queue.get_nowait()
            if run:
                yield run
        if isinstance(ended, BaseException):
            raise ended
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
