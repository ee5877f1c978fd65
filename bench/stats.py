"""Bookkeeping of one population: latencies, errors and a per-second timeline.

Only echoes of messages sent inside the steady window count towards the latency figures, so
that the connection ramp and the final drain are not what is measured; echoes of messages sent
during the ramp, while other chats were still starting, are kept apart (ramp_latencies_ms):
they tell whether starting chats delays the live ones. Errors count for the whole phase: an
error during the ramp is a break all the same.

A phase may run in several load generator processes: each keeps a PhaseStats of its own on
the same epoch (time.perf_counter() is the machine's monotonic clock on Linux, the same in
every process), hands it over with as_dict(), and merged() sums them.
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
        self.ramp_latencies_ms: list[float] = []
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
        self.samples: dict[str, list[float]] = {}
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

    def sample(self, series: str, value: float, at: float) -> None:
        """A figure of the population's own (a request's duration, a wake-up), kept when `at`
        falls in the steady window; the series of all processes are merged by name."""
        if self.in_window(at):
            self.samples.setdefault(series, []).append(value)

    def on_echo(self, sent_at: float, now: float, variant: str | None = None) -> None:
        """An echo; a population of several kinds of client (REST apps' readers) names the
        `variant`, whose steady-window send → echo is also kept apart as `echo_ms_<variant>`."""
        latency = (now - sent_at) * 1000
        self.echoed_total += 1
        if self.in_window(sent_at):
            self.echoed_in_window += 1
            self.latencies_ms.append(latency)
            if variant is not None:
                self.samples.setdefault(f"echo_ms_{variant}", []).append(latency)
        elif self.window is None or sent_at < self.window[0]:
            self.ramp_latencies_ms.append(latency)
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

    def as_dict(self) -> dict[str, Any]:
        """Everything merged() needs, in plain types (it crosses a process boundary)."""
        return {
            "name": self.name,
            "planned": self.planned,
            "started": self.started,
            "window": self.window,
            "latencies_ms": self.latencies_ms,
            "ramp_latencies_ms": self.ramp_latencies_ms,
            "counts": {
                key: getattr(self, key)
                for key in (
                    "sent_total",
                    "sent_in_window",
                    "echoed_total",
                    "echoed_in_window",
                    "connected",
                    "connected_peak",
                )
            },
            "errors": dict(self.errors),
            "connect_failures": dict(self.connect_failures),
            "setup_ms": self.setup_ms,
            "samples": self.samples,
            "timeline": {t: vars(second) for t, second in self.timeline.items()},
            "extra": self.extra,
        }

    @classmethod
    def merged(cls, name: str, planned: int, parts: list[dict[str, Any]]) -> "PhaseStats":
        """One population's stats from its processes' as_dict(): counts and samples summed,
        the window from the earliest start to the latest end, the timeline second by second
        (a process's connected count carried forward over the seconds it did not note)."""
        stats = cls(name, planned)
        if not parts:
            return stats
        stats.started = min(part["started"] for part in parts)
        windows = [part["window"] for part in parts if part["window"] is not None]
        if windows:
            stats.window = (min(w[0] for w in windows), max(w[1] for w in windows))
        last = max((int(t) for part in parts for t in part["timeline"]), default=-1)
        for part in parts:
            stats.latencies_ms.extend(part["latencies_ms"])
            stats.ramp_latencies_ms.extend(part["ramp_latencies_ms"])
            for key, value in part["counts"].items():
                setattr(stats, key, getattr(stats, key) + value)
            stats.errors.update(part["errors"])
            stats.connect_failures.update(part["connect_failures"])
            for step, values in part["setup_ms"].items():
                stats.setup_ms.setdefault(step, []).extend(values)
            for series, values in part["samples"].items():
                stats.samples.setdefault(series, []).extend(values)
            offset = int(part["started"] - stats.started)
            connected = 0
            timeline = {int(t): second for t, second in part["timeline"].items()}
            for t in range(last + 1):
                second = timeline.get(t)
                connected = second["connected"] if second else connected
                bucket = stats.timeline.setdefault(t + offset, Second())
                bucket.connected += connected
                if second:
                    for key in ("sent", "echoed", "errors", "connect_failures"):
                        setattr(bucket, key, getattr(bucket, key) + second[key])
                    bucket.latencies.extend(second["latencies"])
        return stats
