"""The collector set-up at start-up (app/gc_tuning.py): what the service has once started is frozen, once.

Run in a child process: freezing is for the life of a process, and this test session's own objects must
not be frozen by it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

PROBE = textwrap.dedent(
    """
    import gc
    import app.main  # the service's modules, models and routes
    from app.gc_tuning import freeze_startup_objects

    assert gc.get_freeze_count() == 0
    freeze_startup_objects()
    frozen = gc.get_freeze_count()
    later = [[i] for i in range(1000)]  # lists are always tracked
    freeze_startup_objects()  # a second app in the same process: nothing more is frozen
    print(frozen, gc.get_freeze_count(), sum(len(gc.get_objects(g)) for g in range(3)))
    """
)


def test_start_up_objects_are_frozen_once_and_later_ones_are_not() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    frozen, frozen_again, collectable = (int(v) for v in out.stdout.split())
    assert frozen > 50_000  # the imported service: ~150k objects a full collection no longer walks
    assert frozen_again == frozen
    assert 1_000 <= collectable < frozen // 10
