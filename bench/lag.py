"""How late this process's own event loop runs, and what the garbage collector costs it.

Every latency is timed by the bench's event loop; if that loop is busy, both paths look
slower than they are. The report shows the lag so a reader can tell bench noise from
ChatBridge's cost.

A full collection walks every object of the process: in a generator with its imports and
boto3's models, 64 to 71 ms, in all of them at once when their ramps ended (each had as many
chats), so that one path's messages in flight then took the pause for the other's cost. A
generator therefore freezes what it loaded before its customers start (settle_heap), and
reports its longest pause (gc_pauses).
"""

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator, Iterator

from bench.stats import summarize

TICK = 0.05
# The collector's thresholds while driving customers (Python's defaults are 700, 10, 10).
GC_THRESHOLDS = (10_000, 100, 20)


@contextlib.asynccontextmanager
async def loop_lag(into: list[float]) -> AsyncIterator[None]:
    """Samples the loop's lateness (ms) every 50 ms into `into` while the block runs."""

    async def sample() -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(TICK)
            into.append((time.perf_counter() - before - TICK) * 1000)

    task = asyncio.create_task(sample())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def lag_summary(samples: list[float]) -> dict[str, float | int]:
    return summarize([max(sample, 0.0) for sample in samples])


def settle_heap() -> None:
    """What is loaded by now lives as long as the process: collected once, then frozen."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@contextlib.contextmanager
def gc_pauses(into: list[float]) -> Iterator[None]:
    """Each collection's pause (ms) into `into` while the block runs."""
    started: list[float] = []

    def timed(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[:] = [time.perf_counter()]
        elif started:
            into.append((time.perf_counter() - started.pop()) * 1000)

    gc.callbacks.append(timed)
    try:
        yield
    finally:
        gc.callbacks.remove(timed)
