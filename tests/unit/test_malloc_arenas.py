"""One malloc arena (app/malloc_arenas.py): glibc agrees, and a second thread then shares the main heap.

Run in a child process: the setting lasts for the life of a process.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent(
    """
    import ctypes, ctypes.util, sys, threading
    from app.malloc_arenas import use_one_malloc_arena

    if sys.argv[1] == "one":
        assert use_one_malloc_arena()
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    main_block = libc.malloc(1000)
    found = []
    # A block from another thread: in the main arena (near the main heap) or in a new one (an mmap far away).
    worker = threading.Thread(target=lambda: found.append(libc.malloc(1000)))
    worker.start()
    worker.join()
    print(abs(found[0] - main_block) < (64 << 20))
    """
)


def _same_heap(mode: str) -> bool:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=30, check=True
    )
    return out.stdout.strip() == "True"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_a_thread_allocates_from_the_main_heap_once_one_arena_is_asked_for() -> None:
    assert _same_heap("one")
    assert not _same_heap("default")  # without it glibc gives the thread a heap of its own
