"""A one-line progress bar on stderr, redrawn in place on a terminal.

Elsewhere (a CI log, a pipe) it prints a plain line every few seconds instead, so that a log
does not fill with carriage returns.
"""

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator

from bench.stats import PhaseStats

WIDTH = 20


def render(stats: PhaseStats) -> str:
    elapsed = time.perf_counter() - stats.started
    minutes, seconds = divmod(int(elapsed), 60)
    share = stats.connected / stats.planned if stats.planned else 1.0
    if stats.window is not None:
        share = min(
            1.0, (time.perf_counter() - stats.window[0]) / (stats.window[1] - stats.window[0])
        )
    filled = int(share * WIDTH)
    bar = "#" * filled + "-" * (WIDTH - filled)
    p50 = stats.recent_p50()
    errors = sum(stats.errors.values()) + sum(stats.connect_failures.values())
    return (
        f"{stats.name:>6} {minutes:02d}:{seconds:02d} [{bar}] {stats.state:<7} "
        f"chats {stats.connected}/{stats.planned}  sent {stats.sent_total}  "
        f"echoed {stats.echoed_total}  p50 {f'{p50:.1f} ms' if p50 is not None else '-':>9}  "
        f"errors {errors}"
    )


@contextlib.asynccontextmanager
async def progress(stats: PhaseStats) -> AsyncIterator[None]:
    """Shows the bar while the block runs, then leaves its last state on its own line."""
    live = sys.stderr.isatty()

    async def draw() -> None:
        last_plain = 0.0
        while True:
            if live:
                sys.stderr.write("\r" + render(stats) + "\x1b[K")
                sys.stderr.flush()
            elif time.monotonic() - last_plain >= 5:
                last_plain = time.monotonic()
                print(render(stats), file=sys.stderr, flush=True)
            await asyncio.sleep(0.5)

    task = asyncio.create_task(draw())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        print(("\r" if live else "") + render(stats) + ("\x1b[K" if live else ""), file=sys.stderr)
