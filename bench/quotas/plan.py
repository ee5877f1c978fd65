"""When each simulated customer starts its chat and sends, fixed before the run begins.

All times are wall-clock seconds (time.time()) on this machine, the clock the emulator stamps
its items with, so that a send time and the item's AbsoluteTime compare directly, across the
load generator's processes. Customer `i < burst` is part of the start burst (`burst` starts
spread evenly over `burst_window` seconds); the others follow at `ramp_rate` per second. The
steady window opens `settle` seconds (for starts that were retried) after the last planned start: every customer sends a
typing event `typing_lead` seconds before each message, and a message every `interval`
seconds from a random phase, until the window closes.
"""

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    chats: int
    burst: int
    burst_window: float
    ramp_rate: float
    interval: float
    duration: float
    typing_lead: float
    drain: float
    settle: float
    seed: int
    epoch: float
    base_urls: tuple[str, ...]
    ws_urls: tuple[str, ...]
    origin: str
    # Every chat starts on the first ASGI process (which then holds its upstream) and its
    # websocket goes to the others: the layout of --kill-holder.
    holder_starts: bool = False

    def is_burst(self, index: int) -> bool:
        return index < self.burst

    def start_at(self, index: int) -> float:
        if self.is_burst(index):
            return self.epoch + index * self.burst_window / self.burst
        return self.epoch + self.burst_window + (index - self.burst) / self.ramp_rate

    @property
    def window_start(self) -> float:
        last = max((self.start_at(index) for index in range(self.chats)), default=self.epoch)
        return last + self.settle

    @property
    def window_end(self) -> float:
        return self.window_start + self.duration

    @property
    def drain_end(self) -> float:
        return self.window_end + self.drain

    def send_times(self, index: int) -> list[float]:
        """The customer's message times: a random phase, then every `interval`."""
        phase = random.Random(self.seed * 1_000_003 + index).uniform(0, self.interval)
        times = []
        at = self.window_start + phase
        while at < self.window_end:
            times.append(at)
            at += self.interval
        return times

    def base_url(self, index: int) -> str:
        """Customers are spread over the ASGI processes, as a load balancer would."""
        if self.holder_starts:
            return self.base_urls[0]
        return self.base_urls[index % len(self.base_urls)]

    def ws_url(self, index: int) -> str:
        if self.holder_starts and len(self.ws_urls) > 1:
            return self.ws_urls[1 + index % (len(self.ws_urls) - 1)]
        return self.ws_urls[index % len(self.ws_urls)]


def display_name(index: int) -> str:
    """Unique per customer: how the emulator's contacts are matched to customers."""
    return f"Quota customer {index}"


def message_id(index: int, number: int) -> str:
    return f"q{index}-{number}"


def content_for(mid: str) -> str:
    return f"{mid} Hello, is my order on its way? It has been a week now."


def message_id_in(content: object) -> str | None:
    """The id a customer's message starts with (also inside the agent's "Echo: " answer)."""
    if not isinstance(content, str):
        return None
    content = content.removeprefix("Echo: ")
    first = content.split(" ", 1)[0]
    return first if first.startswith("q") and "-" in first else None
