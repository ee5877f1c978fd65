"""Bookkeeping of one population: latencies, errors and a per-second timeline.

Only echoes of messages sent inside the steady window count towards the latency figures, so
that the connection ramp and the final drain are not what is measured. Errors count for the
whole phase: an error during the ramp is a break all the same.
"""

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


def percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list (0 for an empty one)."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summarize(values: list[float]) -> dict[str, float | int]:
    """count, mean and the percentiles the report shows, in the unit of `values`."""
    ordered = sorted(values)
    if not ordered:
        return {"count": 0}
    return {
        "count": len(ordered),
        "min": round(ordered[0], 3),
        "mean": round(sum(ordered) / len(ordered), 3),
        "p50": round(percentile(ordered, 50), 3),
        "p90": round(percentile(ordered, 90), 3),
        "p95": round(percentile(ordered, 95), 3),
        "p99": round(percentile(ordered, 99), 3),
        "p99.9": round(percentile(ordered, 99.9), 3),
        "max": round(ordered[-1], 3),
    }


@dataclass
class Second:
    """One second of a phase, for the progress bar and for finding when a run broke."""

    connected: int = 0
    sent: int = 0
    echoed: int = 0
    errors: int = 0
    connect_failures: int = 0
    latencies: list[float] = field(default_factory=list)

    def as_dict(self, t: int) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        return {
            "t": t,
            "connected": self.connected,
            "sent": self.sent,
            "echoed": self.echoed,
            "errors": self.errors,
            "connect_failures": self.connect_failures,
            "p50_ms": round(percentile(ordered, 50), 3) if ordered else None,
            "p99_ms": round(percentile(ordered, 99), 3) if ordered else None,
        }


class PhaseStats:
    """What one population saw. Times are time.perf_counter() values of this process."""

    def __init__(self, name: str, planned: int) -> None:
        self.name = name
        self.planned = planned
        self.started = time.perf_counter()
        self.window: tuple[float, float] | None = None
        self.state = "ramp"
        self.latencies_ms: list[float] = []
        self.sent_total = 0
        self.sent_in_window = 0
        self.echoed_total = 0
        self.echoed_in_window = 0
        self.connected = 0
        self.connected_peak = 0
        self.errors: Counter[str] = Counter()
        self.connect_failures: Counter[str] = Counter()
        self.setup_ms: dict[str, list[float]] = {}
        self.timeline: dict[int, Second] = {}
        self.recent: list[tuple[float, float]] = []
        self.extra: dict[str, Any] = {}

    def _second(self, now: float) -> Second:
        index = int(now - self.started)
        bucket = self.timeline.get(index)
        if bucket is None:
            bucket = self.timeline[index] = Second(connected=self.connected)
        return bucket

    def in_window(self, at: float) -> bool:
        return self.window is not None and self.window[0] <= at < self.window[1]

    def on_connected(self) -> None:
        self.connected += 1
        self.connected_peak = max(self.connected_peak, self.connected)
        self._second(time.perf_counter()).connected = self.connected

    def on_disconnected(self) -> None:
        self.connected -= 1
        self._second(time.perf_counter()).connected = self.connected

    def on_connect_failure(self, kind: str) -> None:
        self.connect_failures[kind] += 1
        self._second(time.perf_counter()).connect_failures += 1

    def on_setup_step(self, step: str, seconds: float) -> None:
        self.setup_ms.setdefault(step, []).append(seconds * 1000)

    def on_sent(self, at: float) -> None:
        self.sent_total += 1
        if self.in_window(at):
            self.sent_in_window += 1
        self._second(at).sent += 1

    def on_echo(self, sent_at: float, now: float) -> None:
        latency = (now - sent_at) * 1000
        self.echoed_total += 1
        if self.in_window(sent_at):
            self.echoed_in_window += 1
            self.latencies_ms.append(latency)
        bucket = self._second(now)
        bucket.echoed += 1
        bucket.latencies.append(latency)
        self.recent.append((now, latency))

    def on_error(self, kind: str) -> None:
        self.errors[kind] += 1
        self._second(time.perf_counter()).errors += 1

    def recent_p50(self, span: float = 3.0) -> float | None:
        """The median latency of the last `span` seconds, for the progress bar."""
        horizon = time.perf_counter() - span
        self.recent = [entry for entry in self.recent if entry[0] >= horizon]
        if not self.recent:
            return None
        return percentile(sorted(latency for _, latency in self.recent), 50)

    def timeline_rows(self) -> list[dict[str, Any]]:
        rows = []
        connected = 0
        for t in range(max(self.timeline, default=-1) + 1):
            bucket = self.timeline.get(t) or Second(connected=connected)
            connected = bucket.connected
            rows.append(bucket.as_dict(t))
        return rows
