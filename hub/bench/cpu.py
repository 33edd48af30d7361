"""Where the machine's CPU went during a measurement (Linux ``/proc``): the workers, the Kafka broker, the
PostgreSQL server, and everything else.

Why: on a two-core machine shared with the broker (and, here, with other people's work) a drain rate alone
does not say whether the workers were slow or starved. The bench prints, over the same window as the drain
rate, the cores each party used and how busy the machine was, so "two workers give well under twice one" can
be read off: a machine busy ~100% of the time with the workers holding only part of it is CPU-bound, and the
rest went to the broker, the database or other processes.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_cpu_s(pid: int, children: bool = False) -> float:
    """CPU seconds (user + system, all threads) of ``pid``; with ``children``, also of its live children and
    of its children that have exited (a PostgreSQL server's backends). 0.0 if the process is gone."""
    try:
        fields = _stat_fields(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime: the children it has reaped
        for child in _children(pid):
            try:
                f = _stat_fields(child)
            except (FileNotFoundError, ProcessLookupError):
                continue
            ticks += int(f[11]) + int(f[12])
    return ticks / TICK


def main_thread_cpu_s(pid: int) -> float:
    """CPU seconds of ``pid``'s main thread alone (``/proc/<pid>/task/<pid>``); 0.0 if the process is gone."""
    try:
        fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return out


def machine_busy_s() -> tuple[float, float]:
    """(busy, elapsed) CPU seconds summed over every core since boot (``/proc/stat``'s first line)."""
    parts = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)  # idle + iowait
    total = sum(parts[:8])  # guest time is already in user
    return (total - idle) / TICK, total / TICK


def listener_pid(port: int) -> int | None:
    """The process listening on TCP ``port`` on this machine (IPv4 or IPv6), if it can be found."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:  # LISTEN
                inodes.add(f"socket:[{cols[9]}]")
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    return int(proc.name)
        except (PermissionError, FileNotFoundError, ProcessLookupError, NotADirectoryError):
            continue
    return None


@dataclass
class CpuShare:
    """CPU used during a window, in cores (CPU seconds per second of wall time)."""

    workers: float
    broker: float
    database: float
    machine: float  # every process on the machine
    cores: int
    wall_s: float  # the window's length

    @property
    def others(self) -> float:
        rest = self.machine - self.workers - self.broker - self.database
        return rest if math.isnan(rest) else max(0.0, rest)  # max(0.0, nan) would be 0.0


class CpuWindow:
    """Snapshots at :meth:`start` and :meth:`stop`; ``broker_pid`` and ``database_pid`` may be None (not on
    this machine, or not found: counted under ``others``)."""

    def __init__(self, worker_pids: list[int], broker_pid: int | None, database_pid: int | None) -> None:
        self.worker_pids = worker_pids
        self.broker_pid = broker_pid
        self.database_pid = database_pid
        self._start: tuple[float, ...] | None = None

    def _sample(self) -> tuple[float, ...]:
        busy, _ = machine_busy_s()
        return (time.perf_counter(), sum(process_cpu_s(p) for p in self.worker_pids),
                process_cpu_s(self.broker_pid) if self.broker_pid else 0.0,
                process_cpu_s(self.database_pid, children=True) if self.database_pid else 0.0, busy)

    def start(self) -> None:
        self._start = self._sample()

    def stop(self) -> CpuShare:
        """The window's shares; NaN throughout if it never started (the drain ended before the group was stable,
        which is what ``_drain_rate`` reports as a NaN rate too)."""
        if self._start is None:
            nan = float("nan")
            return CpuShare(workers=nan, broker=nan, database=nan, machine=nan, cores=os.cpu_count() or 1, wall_s=nan)
        end = self._sample()
        wall = max(end[0] - self._start[0], 1e-9)
        w, b, d, m = ((e - s) / wall for e, s in zip(end[1:], self._start[1:], strict=True))
        return CpuShare(workers=w, broker=b, database=d, machine=m, cores=os.cpu_count() or 1, wall_s=wall)
