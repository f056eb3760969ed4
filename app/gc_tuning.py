"""Python's cyclic garbage collector, set for a service whose API must answer while a sync runs.

A full (generation 2) collection walks every object the collector tracks, and the event loop answers
nothing meanwhile. Once started, the service holds ~160k of them that live as long as the process
(modules, ORM mappings, schemas, routes), and on the 2-core bench machine a full collection took
150-260 ms: most of the API's idle p99 and a good part of its p99 under an import (bench/HISTORY.md,
round four). `freeze_startup_objects` moves everything alive at the end of start-up into the permanent
generation, which collections never walk, so a full collection walks only what was made since.
"""

from __future__ import annotations

import gc

_frozen = False


def freeze_startup_objects() -> None:
    """Collect once, then freeze what is left; only the first call in a process does anything.

    Once, because frozen objects are never collected: a process that starts several apps (the tests)
    would otherwise freeze each earlier app's leftovers for good.
    """
    global _frozen
    if _frozen:
        return
    _frozen = True
    gc.collect()
    gc.freeze()
