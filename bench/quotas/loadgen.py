"""The load generator: several OS processes, each driving its share of the customers with
asyncio, so that on a small machine the bench's own event loop is not what limits the run.

The coordinator (run_load) starts the processes, waits until each has imported what it needs,
then fixes the plan's epoch and hands every process the plan; each reports its counters once a
second (for the progress line) and, at the end, what each of its customers saw.
"""

import asyncio
import contextlib
import multiprocessing
import queue as queue_module
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from bench.quotas.plan import Plan
from bench.quotas.records import SENT, CustomerRecord

# Seconds between the plan being handed out and its epoch: every process is waiting by then.
LEAD = 1.0
# Failure guard: a process that says nothing for this long is taken for dead.
SILENCE_LIMIT = 60.0
# Seconds the customers stay connected once everything they sent is answered.
LINGER = 5.0
THROTTLING = {"throttled", "rate_limited"}


def counters(records: list[CustomerRecord]) -> dict[str, int]:
    """What the progress line shows, summed over customers."""
    found = {"started": 0, "connected": 0, "sent": 0, "acked": 0, "echoed": 0, "errors": 0}
    throttled = 0
    for record in records:
        found["started"] += record.started
        found["connected"] += record.ready_at is not None
        found["sent"] += len(record.messages)
        throttled += sum(attempt.status == 429 for attempt in record.starts)
        outcomes = [
            *(message.outcome for message in record.messages.values()),
            *record.typing,
            *record.receipts.values(),
        ]
        for message in record.messages.values():
            found["acked"] += message.outcome == SENT
            found["echoed"] += message.echo_seen > 0
        for outcome in outcomes:
            if outcome.startswith("error:"):
                found["errors"] += 1
                throttled += outcome.removeprefix("error:") in THROTTLING
        for code, count in record.async_errors.items():
            found["errors"] += count
            throttled += count * (code in THROTTLING)
    found["throttled"] = throttled
    return found


async def drive(worker: int, indexes: list[int], plan: Plan, report: Any) -> list[dict]:
    import httpx

    from bench.quotas.customer import QuotaCustomer

    async with httpx.AsyncClient(
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=None),
        timeout=httpx.Timeout(120, connect=30),
    ) as http:
        customers = [QuotaCustomer(index, plan, http) for index in indexes]
        records = [customer.record for customer in customers]
        tasks = [asyncio.create_task(customer.live()) for customer in customers]

        async def tell() -> None:
            while True:
                report.put(("progress", worker, counters(records)))
                await asyncio.sleep(1.0)

        teller = asyncio.create_task(tell())
        try:
            await asyncio.sleep(max(0.0, plan.window_end - time.time()))
            while time.time() < plan.drain_end:
                if all(customer.settled() for customer in customers):
                    break
                await asyncio.sleep(0.2)
            # Receipts are acked before ChatBridge sends them (in batches, a moment later), and
            # a closing websocket takes its unsent batch with it: stay a moment longer.
            await asyncio.sleep(max(0.0, min(LINGER, plan.drain_end - time.time())))
        finally:
            for task in [*tasks, teller]:
                task.cancel()
            await asyncio.gather(*tasks, teller, return_exceptions=True)
            await asyncio.gather(*(customer.close() for customer in customers))
        return [record.as_dict() for record in records]


def worker_main(worker: int, indexes: list[int], inbox: Connection, report: Any) -> None:
    """A load generator process: ready, wait for the plan, drive, report the records."""
    import bench.quotas.customer  # noqa: F401 (imported before saying ready)

    report.put(("ready", worker, None))
    plan: Plan = inbox.recv()
    try:
        records = asyncio.run(drive(worker, indexes, plan, report))
    except BaseException as error:
        report.put(("failed", worker, repr(error)))
        raise
    report.put(("done", worker, records))


class LoadFailed(RuntimeError):
    """A load generator process died or fell silent."""


def run_load(
    plan_for: Callable[[float], Plan],
    processes: int,
    on_progress: Callable[[Plan, dict[str, int]], None],
    on_spawned: Callable[[list[int]], None] = lambda pids: None,
) -> tuple[Plan, list[CustomerRecord]]:
    """Runs the customers of plan_for(epoch) in `processes` processes; returns the plan and
    every customer's record, in index order."""
    context = multiprocessing.get_context("spawn")
    report = context.Queue()
    draft = plan_for(time.time())
    shares = [list(range(worker, draft.chats, processes)) for worker in range(processes)]
    pipes = [context.Pipe(duplex=False) for _ in range(processes)]
    workers = [
        context.Process(
            target=worker_main,
            args=(worker, shares[worker], pipes[worker][0], report),
            name=f"bench-load-{worker}",
        )
        for worker in range(processes)
    ]
    for process in workers:
        process.start()
    on_spawned([process.pid for process in workers if process.pid is not None])
    try:
        ready: set[int] = set()
        while len(ready) < processes:
            kind, worker, _ = next_report(report, workers)
            ready.add(worker)
        plan = plan_for(time.time() + LEAD)
        for _, sender in pipes:
            sender.send(plan)
        results = collect(report, workers, lambda totals: on_progress(plan, totals))
    finally:
        stop(workers)
    records = [CustomerRecord.from_dict(data) for share in results.values() for data in share]
    return plan, sorted(records, key=lambda record: record.index)


def collect(
    report: Any, workers: list, on_progress: Callable[[dict[str, int]], None]
) -> dict[int, Any]:
    """Each worker's result, by worker, once all are in; on the way, the workers' progress
    summed. Raises LoadFailed as soon as one fails, dies or falls silent."""
    latest: dict[int, dict[str, int]] = {}
    results: dict[int, Any] = {}
    while len(results) < len(workers):
        kind, worker, payload = next_report(report, workers)
        if kind == "progress":
            latest[worker] = payload
            on_progress(_sum(latest.values()))
        elif kind == "done":
            results[worker] = payload
        elif kind == "failed":
            raise LoadFailed(f"load generator {worker} failed: {payload}")
    for process in workers:
        process.join(timeout=10)
    return results


def stop(workers: list) -> None:
    """Ends the workers still running (after a failure, or a worker that would not exit)."""
    for process in workers:
        if process.is_alive():
            process.terminate()
            process.join(timeout=5)


def next_report(report: Any, workers: list) -> tuple[str, int, Any]:
    deadline = time.monotonic() + SILENCE_LIMIT
    while True:
        with contextlib.suppress(queue_module.Empty):
            return report.get(timeout=0.5)
        if any(process.exitcode not in (None, 0) for process in workers):
            raise LoadFailed("a load generator process died")
        if time.monotonic() > deadline:
            raise LoadFailed("the load generator processes fell silent")


def _sum(snapshots: Any) -> dict[str, int]:
    total: dict[str, int] = {}
    for snapshot in snapshots:
        for name, value in snapshot.items():
            total[name] = total.get(name, 0) + value
    return total
