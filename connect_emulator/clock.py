"""The emulator's clock, and Connect's time format.

Every deadline the emulator keeps (token and URL expiry, the first-connection window, chat
duration, rate-limit refills) reads ``now()``. It is the wall clock unless a test has frozen
it or moved it forward through the control API, so that a test can cross a 25-hour chat
duration or refill a token bucket exactly, without sleeping."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass
class Clock:
    """Wall-clock time plus an offset; when frozen, time moves only by ``advance``."""

    offset: float = 0.0
    frozen_at: float | None = None

    def now(self) -> float:
        if self.frozen_at is not None:
            return self.frozen_at
        return time.time() + self.offset

    @property
    def frozen(self) -> bool:
        return self.frozen_at is not None

    def freeze(self) -> None:
        if self.frozen_at is None:
            self.frozen_at = self.now()

    def thaw(self) -> None:
        """Run again from where the frozen clock stood (no jump back to the wall clock)."""
        if self.frozen_at is not None:
            self.offset = self.frozen_at - time.time()
            self.frozen_at = None

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock never goes back")
        if self.frozen_at is not None:
            self.frozen_at += seconds
        else:
            self.offset += seconds

    def reset(self) -> None:
        self.offset = 0.0
        self.frozen_at = None


CLOCK = Clock()


def now() -> float:
    """Seconds on the emulator's clock; tokens, URLs, chats and quotas expire on it."""
    return CLOCK.now()


def iso(timestamp: float) -> str:
    """Format like Connect does, e.g. ``2019-11-08T02:41:28.172Z``."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> float:
    """Parse an ISO 8601 time (``Z`` or an offset); raises ValueError when it is not one."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
