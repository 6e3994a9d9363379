"""Freed C heap memory goes back to the operating system when the hub asks."""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

import pytest

from hub import release_free_memory

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not hasattr(ctypes.CDLL(None), "malloc_trim"),
    reason="malloc_trim is glibc's",
)
BLOCK = 64 * 1024  # under glibc's mmap threshold: served from the heap, kept there when freed
BLOCKS = 800  # 50 MB


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_memory_freed_under_a_live_block_is_returned():
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(BLOCK) for _ in range(BLOCKS)]
    assert all(blocks)
    for block in blocks:
        ctypes.memset(block, 1, BLOCK)  # touched, so resident
    pin = libc.malloc(BLOCK)  # above the freed ones: the heap cannot simply shrink
    try:
        for block in blocks:
            libc.free(block)
        kept = resident_mb()
        assert release_free_memory() is True
        assert kept - resident_mb() > 0.8 * BLOCK * BLOCKS / 2**20
    finally:
        libc.free(pin)
