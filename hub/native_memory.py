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
