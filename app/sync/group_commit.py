"""Checkpoints of streams that finish their reads together are committed in one transaction.

In a run that finds nothing every stream ends its read within a few milliseconds of the others, and
each one's checkpoint was a transaction of its own: eight sessions, eight commits, eight updates of
the integration row (its lease), each waiting for the previous one's row lock. Here the first stream
to arrive commits its checkpoint at once; those arriving while that commit runs wait for it, then go
in together with the next commit. No checkpoint waits for a stream that has not finished, and a
stream returns only once its own checkpoint is committed (or with the error that kept it from being).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupCommit(Generic[T]):
    """`save(key, item)` returns once `commit` has committed `item`, possibly together with others'."""

    def __init__(self, commit: Callable[[dict[str, T]], Awaitable[None]]) -> None:
        self._commit = commit
        self._lock = asyncio.Lock()
        self._waiting: dict[str, T] = {}
        # The outcome of the next commit, which takes everything waiting when it starts.
        self._next: asyncio.Future[None] | None = None

    async def save(self, key: str, item: T) -> None:
        self._waiting[key] = item
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        outcome = self._next
        async with self._lock:
            if not outcome.done():  # nobody committed our item meanwhile: commit everything waiting
                items, self._waiting, self._next = self._waiting, {}, None
                try:
                    await self._commit(items)
                except asyncio.CancelledError:
                    outcome.cancel()
                    raise
                except BaseException as exc:
                    outcome.set_exception(exc)
                    outcome.exception()  # ours to raise; the streams that waited on it raise it too
                    raise
                outcome.set_result(None)
                return
        await outcome  # committed by another stream, or that commit's error
