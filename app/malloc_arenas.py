"""One glibc malloc arena for the whole process, so the sync's own thread does not grow a second heap.

glibc gives each thread that allocates its own arena (a heap of its own) to spare threads the malloc
lock. Under the GIL only one of our threads runs Python at a time, so that buys nothing here, while the
sync thread's arena kept its own free memory apart: peak RSS of a medium import rose from 140 to 148 MB
when the scheduler moved to its own thread, and came back to 143 MB with one arena (bench/HISTORY.md,
round five). `MALLOC_ARENA_MAX=1` in the environment does the same before start; this does it for
`make run`, uvicorn and the image alike. On a C library without `mallopt` (musl, macOS) nothing changes.
"""

from __future__ import annotations

import ctypes
import functools
import sys

_M_ARENA_MAX = -8  # glibc's malloc.h


@functools.cache
def use_one_malloc_arena() -> bool:
    """Ask glibc for a single arena; True when it agreed. Call before the threads that allocate start.

    Once per process (the setting lasts as long as it). The C library is reached through the process's
    own symbols (`CDLL(None)`), not `ctypes.util.find_library`, which runs `ldconfig` in a subprocess.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, 1))
