"""Catch a list that ignores `page` while claiming to honour it (it echoes the page asked for).

The client already refuses a page whose `current_page` differs from the one asked for. A server that
echoes the number but serves page 1's records again would make a walk by page number skip whatever
lies beyond page 1 (or loop, were the walk unbounded). The same records in the same order on page n
and page n+1 of one query, a whole page of them, cannot come from an honest offset paginator: records
move one at a time between our requests, never a full page in step.
"""

from __future__ import annotations

from typing import Any

from app.classy import Page
from app.classy.hostile import ignores_page_error


class PageGuard:
    """Remembers the last page read of each query; one per run."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], tuple[int, list[Any]]] = {}

    def check(self, path: str, query: str, number: int, page: Page) -> None:
        """Raise `ClassyIgnoresPageError` when page `number` repeats page `number - 1` of this query."""
        ids = [record.get("id") for record in page.data]
        previous = self._last.get((path, query))
        self._last[(path, query)] = (number, ids)
        if previous is not None and previous[0] == number - 1 and len(ids) > 1 and previous[1] == ids:
            raise ignores_page_error(path, number, number - 1)
