"""Streams run side by side, and one stream's failure does not hold back the others.

Each stream has its own cursor, so a stream that fails leaves the others' rows and checkpoints
committed, and the next run resumes it from its own checkpoint. Only what concerns every stream (a
stop, a lost lease, credentials Classy refuses) ends them all at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from app.classy import ClassyError
from app.logging import describe_exception
from app.sync.window import UnorderedPageError

logger = logging.getLogger(__name__)


class StreamsFailed(Exception):
    """Some streams failed (the others finished); `failures` maps each failed stream to its sentence."""

    def __init__(self, failures: dict[str, str], *, others_synced: bool) -> None:
        self.failures = failures
        self.sentence = run_error(failures, others_synced=others_synced)
        super().__init__(self.sentence)


async def run_isolated(
    jobs: dict[str, Coroutine[Any, Any, None]], *, fatal: tuple[type[BaseException], ...]
) -> dict[str, BaseException]:
    """Run every job to its end and return the exceptions of those that failed, by name.

    An exception of a `fatal` type cancels every job and is raised as is.
    """
    tasks = {name: asyncio.ensure_future(job) for name, job in jobs.items()}
    try:
        pending = set(tasks.values())
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if not task.cancelled() and isinstance(task.exception(), fatal):
                    raise task.exception()  # type: ignore[misc]
    finally:
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
    return {
        name: exc
        for name, task in tasks.items()
        if not task.cancelled() and (exc := task.exception()) is not None
    }


def stream_error(stream: str, exc: BaseException) -> str:
    """One sentence an admin understands for why a stream failed (logged in full when unexpected)."""
    if isinstance(exc, ClassyError):
        return exc.sentence
    if isinstance(exc, UnorderedPageError):
        return str(exc)
    # Described without its message, which may quote the page's values (donor data).
    logger.error("sync stream crashed", extra={"stream": stream, "error": describe_exception(exc)})
    return "the sync failed unexpectedly."


def run_error(failures: dict[str, str], *, others_synced: bool) -> str:
    """The run's `error`: which lists failed and why (grouped by reason), and what happens next."""
    by_reason: dict[str, list[str]] = {}
    for stream, sentence in failures.items():
        by_reason.setdefault(sentence, []).append(stream.replace("_", " "))
    parts = []
    for sentence, names in by_reason.items():
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        parts.append(f"{listed[0].upper()}{listed[1:]} could not be synced: {sentence}")
    them, they = ("it", "it") if len(failures) == 1 else ("them", "they")
    retry = f"the next sync retries {them} from where {they} stopped."
    tail = f"The other lists were synced; {retry}" if others_synced else retry[0].upper() + retry[1:]
    return " ".join([*parts, tail])
