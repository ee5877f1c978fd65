"""How late this process's own event loop runs, and what the garbage collector costs it.

Every latency is timed by the bench's event loop; if that loop is busy, both paths look
slower than they are. The report shows the lag so a reader can tell bench noise from
ChatBridge's cost.

A full collection walks every object of the process: in a generator with its imports and
boto3's models, 64 to 71 ms, in all of them at once when their ramps ended (each had as many
chats), so that one path's messages in flight then took the pause for the other's cost. Even
young collections paused a generator 4 to 22 ms, freeing the reference cycles each of httpx's
requests and botocore's calls leaves behind. A generator therefore freezes what it loaded
before its customers start and collects nothing while they run (settle_heap, as timeit keeps
the collector out of what it times), then collects the phase's garbage once it has reported
its figures (collect_after). gc_pauses times any collection that still happens meanwhile.
"""

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from bench.stats import summarize

TICK = 0.05


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
    """What is loaded by now lives as long as the process: collected once, then frozen; no
    collection until collect_after. A phase's garbage is some tens of thousands of small
    objects per generator and minute of traffic, held until its end."""
    gc.collect()
    gc.freeze()
    gc.disable()


@dataclass(frozen=True)
class Collected:
    """What a generator's collector found once its phase was over."""

    objects: int
    ms: float


def collect_after() -> Collected:
    """The garbage held since settle_heap, collected now that nothing is timed."""
    started = time.perf_counter()
    objects = gc.collect()
    gc.enable()
    return Collected(objects, (time.perf_counter() - started) * 1000)


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
