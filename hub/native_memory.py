"""Handing back to the operating system memory that native code freed but the C heap kept.

glibc's malloc keeps freed blocks that sit below a live one (and those of each
thread's own heap) mapped, ready for the next malloc, and the hub's resident size
counts them. Loading an ONNX model frees about 18 MB of such temporaries (the
graph before optimisation, weights before reordering) that nothing reuses for
good; `malloc_trim` returns those pages. Elsewhere (musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library the process already runs on
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_free_memory() -> bool:
    """Give free heap pages of every thread's heap back to the OS; False where it cannot.

    It walks every heap (well under a millisecond after loading a model here): call it
    after a big one-off release such as opening a model, not on every frame.
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


M_ARENA_MAX = -8
"""glibc's `mallopt` parameter for the most malloc arenas (malloc.h)."""
HEAP_ARENAS = 2
"""How many C heaps the hub's threads share (see `limit_heap_arenas`)."""


@functools.cache
def _mallopt() -> Callable[[int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt


def limit_heap_arenas(count: int = HEAP_ARENAS) -> bool:
    """Have every thread share `count` C heaps (glibc arenas); False where it cannot.

    glibc gives threads heaps of their own, up to eight per core, and each keeps the
    high-water mark of what was allocated in it. The threads that run motion and object
    detection each left tens of MB behind: 4 busy cameras held 70 MB each over an idle hub,
    39 MB with two arenas, at the same CPU (bench/pipeline.py --motion, busy scene).
    Call it before threads start. An explicit MALLOC_ARENA_MAX in the environment wins.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    mallopt = _mallopt()
    return mallopt is not None and mallopt(M_ARENA_MAX, count) == 1
