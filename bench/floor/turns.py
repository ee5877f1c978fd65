"""Turns in rotation over the paths, the CPU each path's turns cost, and the figures."""

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from bench.intervals import ratio_interval, span_text
from bench.procstat import cpu_seconds, thread_cpu_seconds
from bench.stats import summarize

PATHS = ("direct", "floor", "bridge")
# CPU per exchange (ms) below which a process is left out of the table: it idled meanwhile.
SHOWN_CPU = 0.1
# Seconds between turns: every process goes back to waiting, as between a chat's messages.
PAUSE = 0.01

Turn = Callable[[], Awaitable[list[float | BaseException]]]


class Meter:
    """CPU seconds of some processes, summed over the turns of each path.

    A turn lasts a few milliseconds, less than a clock tick: the scheduler's nanosecond
    statistics measure it where the kernel keeps them (thread_cpu_seconds), clock ticks
    otherwise, which are right only on average over many turns."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.used: dict[str, dict[str, float]] = {path: {} for path in PATHS}
        self._fine = bool(pids) and all(
            thread_cpu_seconds(pid) is not None for pid in pids.values()
        )

    def read(self) -> dict[str, float]:
        measure = thread_cpu_seconds if self._fine else cpu_seconds
        return {name: measure(pid) or 0.0 for name, pid in self.pids.items()}

    def add(self, path: str, before: dict[str, float], after: dict[str, float]) -> None:
        used = self.used[path]
        for name in self.pids:
            # A thread that ended during the turn took its time along: never below zero.
            used[name] = used.get(name, 0.0) + max(after[name] - before[name], 0.0)


async def take_turns(
    turns: dict[str, Turn], *, rounds: int, warmup: int, meter: Meter, what: str
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Runs each path's turn in rotation, `warmup` times unkept then `rounds` times; the
    latencies (ms) of each path, and how many of its exchanges failed."""
    latencies: dict[str, list[float]] = {path: [] for path in turns}
    lost = {path: 0 for path in turns}
    paths = list(turns)
    total = warmup + rounds
    shown = -1
    for turn in range(total):
        kept = turn >= warmup
        for path in paths[turn % len(paths) :] + paths[: turn % len(paths)]:
            before = meter.read()
            answers = await turns[path]()
            after = meter.read()
            if kept:
                meter.add(path, before, after)
                for answer in answers:
                    if isinstance(answer, BaseException):
                        lost[path] += 1
                    else:
                        latencies[path].append(answer)
            await asyncio.sleep(PAUSE)
        done = (turn + 1) * 10 // total
        if done != shown:
            shown = done
            print(f"{what}: {done * 10:3d} % of {total} turns", file=sys.stderr, flush=True)
    return latencies, lost


def figures(
    latencies: dict[str, list[float]], lost: dict[str, int], meter: Meter
) -> dict[str, Any]:
    """Each path's latencies, its CPU per exchange, and its cost over direct and the floor."""
    paths: dict[str, Any] = {}
    for path, values in latencies.items():
        count = max(len(values), 1)
        paths[path] = {
            "latency_ms": summarize(values),
            "lost": lost[path],
            "cpu_ms_each": {
                name: round(seconds * 1000 / count, 3) for name, seconds in meter.used[path].items()
            },
        }
    direct = paths["direct"]["latency_ms"]
    for path in ("floor", "bridge"):
        mine = paths[path]["latency_ms"]
        paths[path]["added_ms"] = {
            p: round(mine[p] - direct[p], 3) for p in ("p50", "p90", "p99") if p in mine
        }
        paths[path]["ratio_to_direct"] = {
            p: round(mine[p] / direct[p], 3) for p in ("p50", "p99") if direct.get(p)
        }
        paths[path]["added_to_direct"] = {
            p: round((mine[p] - direct[p]) / direct[p], 3) for p in ("p50", "p99") if direct.get(p)
        }
        paths[path]["intervals"] = {
            kind: {
                p: ratio_interval(
                    latencies[path], latencies["direct"], percent, minus=minus
                ).as_list()
                for p, percent in (("p50", 50), ("p99", 99))
            }
            for kind, minus in (("added_to_direct", 1.0), ("ratio_to_direct", 0.0))
            if latencies[path] and latencies["direct"]
        }
    bridge, floor = paths["bridge"]["latency_ms"], paths["floor"]["latency_ms"]
    own = {p: round(bridge[p] - floor[p], 3) for p in ("p50", "p90", "p99") if p in bridge}
    return {"paths": paths, "bridge_over_floor_ms": own}


def _within(figure: dict[str, Any], ratio: str) -> str:
    """ " in 0.31 to 0.48": the p50 ratio's confidence interval (bench.intervals)."""
    bounds = figure.get("intervals", {}).get(ratio, {}).get("p50", (None, None))
    return "" if bounds[0] is None else f" in {span_text(bounds)}"


def render(built: dict[str, Any], title: str, *, ratio: str) -> str:
    """A table of `built` (figures()); `ratio` is the column shown against direct:
    "added_to_direct" (what the path adds, as the message targets count it) or
    "ratio_to_direct" (the whole, as the start target does)."""
    shown = "added p50 / direct p50" if ratio == "added_to_direct" else "p50 / direct p50"
    lines = [title, f"path      p50 ms   p90 ms   p99 ms   {shown:<24} CPU each"]
    for path, figure in built["paths"].items():
        latency = figure["latency_ms"]
        added = figure.get("added_ms", {}).get("p50")
        value = figure.get(ratio, {}).get("p50")
        compared = (
            "" if added is None else f"{added:+.2f} ms ({value:.2f}x{_within(figure, ratio)})"
        )
        cpu = ", ".join(
            f"{name} {ms:.2f} ms" for name, ms in figure["cpu_ms_each"].items() if ms >= SHOWN_CPU
        )
        lines.append(
            f"{path:<7} {latency.get('p50', 0):8.2f} {latency.get('p90', 0):8.2f} "
            f"{latency.get('p99', 0):8.2f}   {compared:<24} {cpu}"
            + (f"  FAILED {figure['lost']}" if figure["lost"] else "")
        )
    own = built["bridge_over_floor_ms"]
    lines.append(
        f"ChatBridge over the bare relay: p50 {own.get('p50', 0):+.2f} ms, "
        f"p90 {own.get('p90', 0):+.2f} ms, p99 {own.get('p99', 0):+.2f} ms"
    )
    return "\n".join(lines)
