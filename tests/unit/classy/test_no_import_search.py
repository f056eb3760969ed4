"""httpcore's per-request lookups of the async library are dictionary hits, not searches of sys.path.

httpcore imports `sniffio` each time it sets up a lock, an event or a cancellation shield (several per
Classy request). Without the package installed, each of those imports failed after searching every
sys.path entry: ≈15% of the service's CPU in a sync run that finds nothing (bench/HISTORY.md, round five).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType

from httpcore._synchronization import AsyncShieldCancellation, current_async_library


class _Searches(MetaPathFinder):
    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        self.names.append(fullname)
        return None


async def test_httpcore_finds_the_async_library_without_an_import_search() -> None:
    current_async_library()  # a first import, if any, may search
    searches = _Searches()
    sys.meta_path.insert(0, searches)
    try:
        for _ in range(3):
            assert current_async_library() == "asyncio"
            with AsyncShieldCancellation():
                pass
    finally:
        sys.meta_path.remove(searches)
    assert searches.names == []
