"""The run's one-line progress on stderr, as bench/progress.py draws it: redrawn in place on a
terminal, a plain line every few seconds elsewhere."""

import sys
import time

from bench.progress import WIDTH
from bench.quotas.plan import Plan

PLAIN_EVERY = 5.0


def stage(plan: Plan, now: float) -> tuple[str, float]:
    """The stage of the run and how far through it is."""
    ramp_end = plan.window_start
    if now < plan.epoch + plan.burst_window and plan.burst:
        return "burst", (now - plan.epoch) / plan.burst_window
    if now < ramp_end:
        return "ramp", (now - plan.epoch) / max(ramp_end - plan.epoch, 1e-9)
    if now < plan.window_end:
        return "steady", (now - plan.window_start) / plan.duration
    return "drain", (now - plan.window_end) / max(plan.drain, 1e-9)


def render(plan: Plan, totals: dict[str, int], now: float) -> str:
    name, share = stage(plan, now)
    elapsed = max(0, int(now - plan.epoch))
    minutes, seconds = divmod(elapsed, 60)
    filled = int(min(1.0, max(0.0, share)) * WIDTH)
    bar = "#" * filled + "-" * (WIDTH - filled)
    return (
        f"quotas {minutes:02d}:{seconds:02d} [{bar}] {name:<6} "
        f"chats {totals.get('connected', 0)}/{plan.chats}  sent {totals.get('sent', 0)}  "
        f"acked {totals.get('acked', 0)}  echoed {totals.get('echoed', 0)}  "
        f"throttled {totals.get('throttled', 0)}  errors {totals.get('errors', 0)}"
    )


class ProgressLine:
    def __init__(self) -> None:
        self.live = sys.stderr.isatty()
        self.last_plain = 0.0
        self.last = ""

    def update(self, plan: Plan, totals: dict[str, int]) -> None:
        self.last = render(plan, totals, time.time())
        if self.live:
            sys.stderr.write("\r" + self.last + "\x1b[K")
            sys.stderr.flush()
        elif time.monotonic() - self.last_plain >= PLAIN_EVERY:
            self.last_plain = time.monotonic()
            print(self.last, file=sys.stderr, flush=True)

    def finish(self) -> None:
        if self.last:
            print(("\r" if self.live else "") + self.last, file=sys.stderr)
