"""Reads CPU time, memory and machine facts from /proc, for the benchmarks (Linux only)."""

from __future__ import annotations

import os
import platform
import re
import threading
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(path: Path) -> list[str]:
    # The command name sits in parentheses and may itself hold spaces or parentheses.
    text = path.read_text()
    return text.rsplit(")", 1)[1].split()


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU seconds of a whole process (all its threads)."""
    fields = _stat_fields(Path(f"/proc/{pid}/stat"))
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def thread_cpu(pid: int | str = "self") -> dict[int, tuple[str, float]]:
    """CPU seconds of each live thread of a process, keyed by thread id, with its name."""
    python_names = {t.native_id: t.name for t in threading.enumerate()} if pid == "self" else {}
    found: dict[int, tuple[str, float]] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = _stat_fields(task / "stat")
            comm = (task / "comm").read_text().strip()
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended while we looked
        tid = int(task.name)
        name = python_names.get(tid, comm)
        found[tid] = (name, (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
    return found


def thread_group(name: str) -> str:
    """A thread name with its numbers and camera id folded, so like threads add up."""
    if name == "MainThread":
        return "MainThread"
    name = re.sub(r"^cam-.+-(main|detect)$", r"cam-*-\1", name)
    return re.sub(r"\d+", "#", name)


def thread_cpu_by_group(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
) -> dict[str, float]:
    """CPU seconds spent between two `thread_cpu` snapshots, summed per thread group."""
    groups: dict[str, float] = {}
    for tid, (name, seconds) in after.items():
        spent = seconds - before.get(tid, (name, 0.0))[1]
        group = thread_group(name)
        groups[group] = groups.get(group, 0.0) + spent
    return groups


def memory_kb(pid: int | str = "self") -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in kB."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return total - idle, total


def machine_summary() -> str:
    """One line: CPUs, model, memory, kernel."""
    model = "unknown CPU"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    usable = len(os.sched_getaffinity(0))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"nproc {usable} (of {os.cpu_count()}), {model}, {mem_kb / 2**20:.1f} GiB RAM, "
        f"Linux {platform.release()}, load average {load}"
    )


def run_queue_seconds() -> float:
    """Seconds the calling thread has spent runnable but waiting for a CPU (schedstat)."""
    path = Path(f"/proc/self/task/{threading.get_native_id()}/schedstat")
    try:
        return int(path.read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def sysbench_cpu(seconds: float = 5.0) -> float | None:
    """`sysbench cpu` events per CPU second on one thread (primes to 10000), None without it.

    Per CPU second, not per wall second, so that a busy machine does not look slow.
    """
    import resource
    import shutil
    import subprocess

    if shutil.which("sysbench") is None:
        return None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        ["sysbench", "cpu", "--threads=1", f"--time={seconds:g}", "run"],
        capture_output=True,
        text=True,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    match = re.search(r"total number of events:\s*(\d+)", result.stdout)
    return int(match.group(1)) / cpu if match and cpu > 0 else None
