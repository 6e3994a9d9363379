"""Freed C heap memory goes back to the operating system when the hub asks."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub import release_free_memory
from hub.native_memory import limit_heap_arenas

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


ARENA_PROBE = """
import ctypes, sys, threading
from pathlib import Path
from hub.native_memory import limit_heap_arenas

if sys.argv[1] == "limited":
    assert limit_heap_arenas(2)
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
THREADS, BLOCKS, BLOCK = 12, 150, 64 * 1024
turns = [threading.Event() for _ in range(THREADS + 1)]
done = threading.Event()

def work(index):
    # Every thread is alive throughout (as a pool's are) and allocates in its turn: with
    # an arena each, what one freed under its pin is kept in its own arena, unused.
    turns[index].wait()
    blocks = [libc.malloc(BLOCK) for _ in range(BLOCKS)]
    for block in blocks:
        ctypes.memset(block, 1, BLOCK)
    pin = libc.malloc(BLOCK)
    for block in blocks:
        libc.free(block)
    turns[index + 1].set()
    done.wait()

threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
for thread in threads:
    thread.start()
turns[0].set()
turns[THREADS].wait()
for line in Path("/proc/self/status").read_text().splitlines():
    if line.startswith("VmRSS:"):
        print(int(line.split()[1]) // 1024)
done.set()
"""


def test_threads_share_two_heaps_and_keep_less_memory():
    """What threads free stays in their own heap; with two shared heaps the next thread
    reuses it. 12 threads taking turns at 9.4 MB each: about 12 heaps' worth resident
    with the default, about two with the limit."""

    def resident(mode: str) -> int:
        env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
        done = subprocess.run(
            [sys.executable, "-c", ARENA_PROBE, mode],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert done.returncode == 0, done.stderr
        return int(done.stdout)

    default, limited = resident("default"), resident("limited")
    assert default - limited > 50, (default, limited)


def test_an_explicit_malloc_arena_max_wins(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_heap_arenas(2) is False
