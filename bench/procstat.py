"""Memory and CPU of a process, read from /proc so that no extra package is needed."""

import os
from dataclasses import dataclass

_TICKS = os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int | None:
    """Resident set size (VmRSS), or None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time the process has used so far."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the command name: state is field 3, utime 14 and stime 15 (1-based, man 5 proc).
    return (int(fields[11]) + int(fields[12])) / _TICKS


def thread_cpu_seconds(pid: int) -> float | None:
    """CPU time the process's live threads have run so far, to the nanosecond (the scheduler's
    statistics), for spans of a few milliseconds that clock ticks (10 ms) cannot measure. None
    if the kernel keeps no such statistics or the process is gone. A thread that ends takes
    its time with it: over spans in which threads come and go, use cpu_seconds."""
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    total, read = 0, False
    for thread in threads:
        try:
            with open(f"/proc/{pid}/task/{thread}/schedstat") as stat:
                total += int(stat.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # the thread ended meanwhile, or no statistics
        read = True
    return total / 1e9 if read else None


def machine_busy_seconds() -> float:
    """CPU seconds all cores of the machine have spent busy (not idle or iowait)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / _TICKS


@dataclass
class CpuMeter:
    """CPU share of some processes between start() and stop(), in % of one core.

    "others" is what the rest of the machine used meanwhile: on a shared machine, a busy
    neighbour slows both paths and makes a run worthless, and the report should say so.
    """

    pids: dict[str, int]

    def start(self, now: float) -> None:
        self._started = now
        self._before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self._machine_before = machine_busy_seconds()

    def stop(self, now: float) -> dict[str, float]:
        elapsed = max(now - self._started, 1e-9)
        shares: dict[str, float] = {}
        for name, pid in self.pids.items():
            before, after = self._before.get(name), cpu_seconds(pid)
            if before is not None and after is not None:
                shares[name] = round(100 * (after - before) / elapsed, 1)
        machine = 100 * (machine_busy_seconds() - self._machine_before) / elapsed
        shares["others"] = round(max(0.0, machine - sum(shares.values())), 1)
        return shares
