"""How late this process's own event loop runs.

Every latency is timed by the bench's event loop; if that loop is busy, both paths look
slower than they are. The report shows the lag so a reader can tell bench noise from
ChatBridge's cost.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

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
