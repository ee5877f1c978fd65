"""The load generator of `python -m bench`: one phase's customers spread over several OS
processes, as bench.quotas.loadgen does, so that the bench's own event loop is not what limits
a run; each process's CPU is measured, so that the report can tell when one was.

A phase holds one path or several that take turns (bench.customers.Turns): each process drives
its share of every path's customers. The coordinator (run_phase) starts the processes, waits
until each has imported what it needs, then hands them a common epoch, from which the turns
and each path's ramp are counted. Each process ramps its share, then waits at a barrier, so
that the steady window opens at the same moment in all of them (the start of a rotation, which
they agree on through a shared value). The first process also measures the stack's CPU (and
every generator's) over the window, and daphne's RSS at its edges.
"""

import asyncio
import contextlib
import gc
import itertools
import multiprocessing
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from bench.customers import Customer, PhasePlan, Population
from bench.lag import collect_after, gc_pauses, lag_summary, loop_lag, settle_heap
from bench.procstat import CpuMeter, cpu_seconds, rss_bytes
from bench.quotas.loadgen import LoadFailed, collect, next_report, stop
from bench.stats import PhaseStats

# Seconds between the epoch being handed out and the first start: every process waits by then.
LEAD = 1.0
# Seconds from a process's ramp's end to the earliest window it proposes: the others reach
# the barrier meanwhile.
WINDOW_LEAD = 1.0
# Seconds a process waits at the window's barrier beyond the ramp's own limits.
BARRIER_SLACK = 30.0

__all__ = ["LoadFailed", "PhaseJob", "run_phase"]


@dataclass(frozen=True)
class PhaseJob:
    """What every generator process of a phase needs to drive its share of the customers."""

    paths: tuple[tuple[str, int], ...]  # ("direct", "bridge" or "rest", chats), in turn order
    plan: PhasePlan
    seed: int
    base_url: str
    ws_url: str
    emulator_url: str
    instance_id: str
    contact_flow_id: str
    stack_pids: dict[str, int]
    rest_readers: str  # "poll", "sse" or "both" (the apps alternate)
    start_urls: tuple[str, ...] = ()  # where chats start, when not at base_url

    @property
    def name(self) -> str:
        return " and ".join(kind for kind, _ in self.paths)

    @property
    def chats(self) -> int:
        return sum(chats for _, chats in self.paths)

    def share(self, worker: int, processes: int) -> dict[str, list[int]]:
        """The customers a process drives: of each path, every `processes`-th from `worker`."""
        return {kind: list(range(worker, chats, processes)) for kind, chats in self.paths}


class _Shared:
    """The per-process resources a population shares (HTTP pools, boto3 clients)."""

    def __init__(self, job: PhaseJob) -> None:
        self.job = job
        self.direct: Any = None
        self.api: Any = None

    def customers(self, kind: str, indexes: list[int], stats: PhaseStats) -> list[Customer]:
        job = self.job
        if kind == "direct":
            from bench.direct import DirectConnect, DirectCustomer

            self.direct = DirectConnect(
                job.emulator_url,
                instance_id=job.instance_id,
                contact_flow_id=job.contact_flow_id,
            )
            return [DirectCustomer(i, stats, self.direct) for i in indexes]
        from bench.rest import RestApi

        if self.api is None:
            self.api = RestApi(job.base_url, job.start_urls)
        if kind == "rest":
            from bench.rest import rest_app

            apps = [
                rest_app(i, position, stats, self.api, job.rest_readers)
                for position, i in enumerate(indexes)
            ]
            stats.extra["variants"] = dict(Counter(app.variant for app in apps))
            return apps
        from bench.bridge import BridgeCustomer

        return [BridgeCustomer(i, stats, job.ws_url, self.api) for i in indexes]

    async def aclose(self) -> None:
        if self.direct is not None:
            await self.direct.aclose()
        if self.api is not None:
            await self.api.aclose()


def _share(used: float | None, since: float | None, seconds: float) -> float | None:
    if used is None or since is None:
        return None
    return round(100 * (used - since) / max(seconds, 1e-9), 1)


def _mean_shares(turns: list[dict[str, float]]) -> dict[str, float]:
    """Each process's CPU share over equally long turns: their mean (empty without turns)."""
    names = dict.fromkeys(name for shares in turns for name in shares)
    return {
        name: round(sum(shares.get(name, 0.0) for shares in turns) / len(turns), 1)
        for name in names
    }


async def drive(
    worker: int,
    share: dict[str, list[int]],
    job: PhaseJob,
    epoch: float,
    generators: dict[str, int],
    sync: tuple[Any, Any],
    report: Any,
) -> dict[str, Any]:
    """One process's share of a phase; what it saw, per path, as plain data for the
    coordinator."""
    barrier, opening = sync
    shared = _Shared(job)
    groups = []
    for kind, indexes in share.items():
        stats = PhaseStats(kind, len(indexes))
        groups.append((stats, shared.customers(kind, indexes, stats)))
    all_stats = [stats for stats, _ in groups]
    me = os.getpid()
    first = worker == 0
    meter = CpuMeter({**job.stack_pids, **generators})
    # What the stack's processes spent while the chats were being started.
    ramp_meter = CpuMeter(dict(job.stack_pids))
    if first:
        ramp_meter.start(time.perf_counter())
    lag: list[float] = []
    marks: dict[str, Any] = {"cpu_epoch": cpu_seconds(me), "rss": {}}
    window_wait = job.plan.ramp_timeout + job.plan.connect_timeout + BARRIER_SLACK
    population = Population(groups, job.plan, seed=job.seed * 1009 + worker)
    settle_heap()
    pauses: list[float] = []
    turns = population.turns
    # The stack's CPU in each path's own turns of the window (several paths, first process).
    in_turns: list[list[dict[str, float]]] = [[] for _ in range(turns.count)]

    async def meter_turns() -> None:
        turn_meter = CpuMeter({**job.stack_pids, **generators})
        at = marks["window_started"]
        turn_meter.start(at)
        for index in itertools.count():
            at += turns.length
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            now = time.perf_counter()
            in_turns[index % turns.count].append(turn_meter.stop(now))
            turn_meter.start(now)

    async def connected() -> None:
        for stats in all_stats:
            stats.extra["connected_at_window_start"] = stats.connected
        now = time.perf_counter()
        marks["ramp_cpu"] = _share(cpu_seconds(me), marks["cpu_epoch"], now - epoch)
        if first:
            ramp = ramp_meter.stop(now)
            for stats in all_stats:
                stats.extra["ramp_stack_cpu_percent"] = ramp
        if turns.count > 1:
            # Each process proposes the next rotation but one; all open at the latest.
            proposal = epoch + turns.window_start(now - epoch + WINDOW_LEAD)
            with opening.get_lock():
                opening.value = max(opening.value, proposal)
        with contextlib.suppress(Exception):  # a broken barrier: the window opens anyway
            await asyncio.to_thread(barrier.wait, window_wait)
        if turns.count > 1:
            await asyncio.sleep(max(0.0, opening.value - time.perf_counter()))
        marks["window_started"] = time.perf_counter()
        marks["cpu_window"] = cpu_seconds(me)
        if first:
            marks["rss"]["connected"] = rss_bytes(job.stack_pids.get("daphne", 0))
            meter.start(marks["window_started"])
            if turns.count > 1:
                marks["turn_meter"] = asyncio.create_task(meter_turns())
        lag.clear()

    async def window_end() -> None:
        now = time.perf_counter()
        elapsed = now - marks.get("window_started", now)
        marks["window_cpu"] = _share(cpu_seconds(me), marks.get("cpu_window"), elapsed)
        marks["lag"] = list(lag)
        if first:
            cpu = meter.stop(now)
            turn_meter = marks.get("turn_meter")
            if turn_meter is not None:
                turn_meter.cancel()
            for turn, stats in enumerate(all_stats):
                stats.extra["cpu_percent"] = _mean_shares(in_turns[turn]) or cpu
            marks["rss"]["end_of_window"] = rss_bytes(job.stack_pids.get("daphne", 0))

    async def tell() -> None:
        while True:
            totals = {
                "connected": sum(stats.connected for stats in all_stats),
                "sent": sum(stats.sent_total for stats in all_stats),
                "echoed": sum(stats.echoed_total for stats in all_stats),
                "errors": sum(
                    sum(stats.errors.values()) + sum(stats.connect_failures.values())
                    for stats in all_stats
                ),
            }
            report.put(("progress", worker, totals))
            await asyncio.sleep(1.0)

    teller = asyncio.create_task(tell())
    try:
        with gc_pauses(pauses):
            async with loop_lag(lag):
                await population.run(on_connected=connected, on_window_end=window_end, epoch=epoch)
    finally:
        teller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await teller
        await shared.aclose()
    garbage = collect_after()
    return {
        "stats": {stats.name: stats.as_dict() for stats in all_stats},
        "pid": me,
        "ramp_cpu_percent": marks.get("ramp_cpu"),
        "window_cpu_percent": marks.get("window_cpu"),
        "lag_ms": marks.get("lag", []),
        "gc_frozen": gc.get_freeze_count(),
        "gc_collections": len(pauses),
        "gc_longest_ms": round(max(pauses, default=0.0), 1),
        "gc_after_objects": garbage.objects,
        "gc_after_ms": round(garbage.ms, 1),
        "rss": marks["rss"],
    }


def worker_main(
    worker: int,
    share: dict[str, list[int]],
    job: PhaseJob,
    inbox: Connection,
    sync: tuple[Any, Any],
    report: Any,
) -> None:
    """A generator process: say ready, wait for the epoch, drive, report what it saw."""
    import bench.bridge  # noqa: F401 (imported before saying ready)
    import bench.direct  # noqa: F401
    import bench.rest  # noqa: F401

    report.put(("ready", worker, os.getpid()))
    # The epoch is a time.perf_counter() value of the coordinator: on Linux that is
    # CLOCK_MONOTONIC, the same clock in every process.
    epoch, generators = inbox.recv()
    try:
        result = asyncio.run(drive(worker, share, job, epoch, generators, sync, report))
    except BaseException as error:
        report.put(("failed", worker, repr(error)))
        raise
    report.put(("done", worker, result))


def _progress_line(job: PhaseJob, started: float, totals: dict[str, int]) -> str:
    minutes, seconds = divmod(int(time.monotonic() - started), 60)
    return (
        f"{job.name:>6} {minutes:02d}:{seconds:02d} chats {totals.get('connected', 0)}/"
        f"{job.chats}  sent {totals.get('sent', 0)}  echoed {totals.get('echoed', 0)}  "
        f"errors {totals.get('errors', 0)}"
    )


def run_phase(job: PhaseJob, processes: int) -> dict[str, PhaseStats]:
    """Drives the phase's customers in `processes` processes; each path's merged stats, with
    each generator process's CPU in extra["generators"]."""
    processes = max(1, min(processes, job.chats))
    context = multiprocessing.get_context("spawn")
    report = context.Queue()
    sync = (context.Barrier(processes), context.Value("d", 0.0))
    pipes = [context.Pipe(duplex=False) for _ in range(processes)]
    workers = [
        context.Process(
            target=worker_main,
            args=(worker, job.share(worker, processes), job, pipes[worker][0], sync, report),
            name=f"bench-load-{worker}",
        )
        for worker in range(processes)
    ]
    for process in workers:
        process.start()
    began = time.monotonic()
    try:
        pids: dict[str, int] = {}
        while len(pids) < processes:
            kind, worker, payload = next_report(report, workers)
            if kind == "ready":
                pids[f"load-{worker}"] = payload
        epoch = time.perf_counter() + LEAD
        for _, sender in pipes:
            sender.send((epoch, pids))
        shown = 0.0

        def progress(totals: dict[str, int]) -> None:
            nonlocal shown
            if time.monotonic() - shown >= 5:
                shown = time.monotonic()
                print(_progress_line(job, began, totals), file=sys.stderr, flush=True)

        results = collect(report, workers, progress)
    finally:
        stop(workers)
    ordered = [results[worker] for worker in sorted(results)]
    return {kind: _merge(kind, chats, ordered) for kind, chats in job.paths}


def _merge(kind: str, chats: int, results: list[dict[str, Any]]) -> PhaseStats:
    parts = [result["stats"][kind] for result in results]
    stats = PhaseStats.merged(kind, chats, parts)
    extras = [part["extra"] for part in parts]
    connected = sum(extra.get("connected_at_window_start", 0) for extra in extras)
    ramp = max((extra.get("ramp_s") or 0.0 for extra in extras), default=0.0)
    variants: Counter[str] = Counter()
    for extra in extras:
        variants.update(extra.get("variants", {}))
    stats.extra.update(
        {
            "connected_at_window_start": connected,
            "ramp_s": ramp,
            "ramp_chats_per_s": round(connected / ramp, 1) if ramp else None,
            "ramp_complete": all(extra.get("ramp_complete") for extra in extras),
            "window_s": extras[0].get("window_s"),
            "turns": extras[0].get("turns", 1),
            "cpu_percent": extras[0].get("cpu_percent", {}),
            "ramp_stack_cpu_percent": extras[0].get("ramp_stack_cpu_percent", {}),
            "loop_lag_ms": lag_summary([s for result in results for s in result["lag_ms"]]),
            "generators": [
                {
                    "pid": result["pid"],
                    "chats": part["planned"],
                    "ramp_cpu_percent": result["ramp_cpu_percent"],
                    "window_cpu_percent": result["window_cpu_percent"],
                    "loop_lag_p99_ms": lag_summary(result["lag_ms"]).get("p99"),
                    "gc_frozen": result["gc_frozen"],
                    "gc_collections": result["gc_collections"],
                    "gc_longest_ms": result["gc_longest_ms"],
                    "gc_after_objects": result["gc_after_objects"],
                    "gc_after_ms": result["gc_after_ms"],
                }
                for result, part in zip(results, parts, strict=True)
            ],
            "rss": results[0]["rss"],
            "variants": dict(variants),
        }
    )
    return stats
