"""Connect's default service quotas: request rates per operation and the concurrency limits.

AWS applies the participant API's rates and StartChatContact's rate per account and Region
(one emulator is one account in one Region, so one bucket per operation), and the concurrent
active chats per instance. Each rate is a token bucket: it holds ``burst`` tokens, refills at
``per_second`` on the emulator's clock, and a call finding it empty is throttled.
Quotas are on by default with AWS's defaults; each is configurable and all can be turned off.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from . import clock


@dataclass(frozen=True)
class Rate:
    """A sustained rate (requests per second) and a burst (bucket size)."""

    per_second: float
    burst: int

    def __str__(self) -> str:
        return f"{self.per_second:g}/{self.burst}"


# Amazon Connect service quotas (participant API and StartChatContact), per account and Region.
DEFAULT_RATES: dict[str, Rate] = {
    "SendMessage": Rate(10, 15),
    "SendEvent": Rate(10, 15),
    "CreateParticipantConnection": Rate(6, 9),
    "GetTranscript": Rate(8, 12),
    "DisconnectParticipant": Rate(3, 5),
    "StartAttachmentUpload": Rate(2, 5),
    "CompleteAttachmentUpload": Rate(2, 5),
    "StartChatContact": Rate(5, 8),
}
ACTIVE_CHATS = "ActiveChats"
WEBSOCKETS_PER_PARTICIPANT = "WebsocketsPerParticipant"
DEFAULT_COUNTS: dict[str, int] = {ACTIVE_CHATS: 500, WEBSOCKETS_PER_PARTICIPANT: 5}
QUOTA_NAMES = (*DEFAULT_RATES, *DEFAULT_COUNTS)


@dataclass(frozen=True)
class QuotaSettings:
    """Which quotas apply and how large they are."""

    enabled: bool = True
    rates: dict[str, Rate] = field(default_factory=lambda: dict(DEFAULT_RATES))
    counts: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_COUNTS))

    def with_limits(self, limits: dict[str, Any]) -> QuotaSettings:
        """A copy with ``{name: value}`` applied (``"10/15"`` for a rate, a number for a
        count); raises ValueError naming a bad name or value."""
        rates, counts = dict(self.rates), dict(self.counts)
        for name, value in limits.items():
            if name in rates:
                rates[name] = parse_rate(name, value)
            elif name in counts:
                counts[name] = parse_count(name, value)
            else:
                raise ValueError(f"unknown quota {name!r}; known: {', '.join(QUOTA_NAMES)}")
        return replace(self, rates=rates, counts=counts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "rates": {name: str(rate) for name, rate in self.rates.items()},
            "counts": dict(self.counts),
        }


def parse_rate(name: str, value: Any) -> Rate:
    """``"10/15"``: 10 requests per second, bursts of 15."""
    try:
        per_second, burst = str(value).split("/")
        rate = Rate(float(per_second), int(burst))
    except ValueError:
        raise ValueError(f"{name} must be RATE/BURST, e.g. 10/15") from None
    if rate.per_second <= 0 or rate.burst < 1:
        raise ValueError(f"{name} must have a rate > 0 and a burst >= 1")
    return rate


def parse_count(name: str, value: Any) -> int:
    try:
        count = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer") from None
    if isinstance(value, bool | float) or count < 0:
        raise ValueError(f"{name} must be an integer >= 0")
    return count


def parse_assignment(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` as the CLI's ``--quota`` takes it."""
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise ValueError(f"--quota takes NAME=VALUE, e.g. SendMessage=10/15 (got {text!r})")
    return name, value


@dataclass
class TokenBucket:
    rate: Rate
    tokens: float
    updated: float

    @classmethod
    def full(cls, rate: Rate) -> TokenBucket:
        return cls(rate, float(rate.burst), clock.now())

    def take(self) -> bool:
        moment = clock.now()
        elapsed = max(moment - self.updated, 0.0)
        self.tokens = min(float(self.rate.burst), self.tokens + elapsed * self.rate.per_second)
        self.updated = moment
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class QuotaBook:
    """The settings in force and one token bucket per rate-limited operation."""

    def __init__(self, settings: QuotaSettings) -> None:
        self.settings = settings
        self._buckets: dict[str, TokenBucket] = {}
        # Calls of each operation, admitted or throttled, since the emulator started or was
        # reset: what a client's calls cost, counted where Connect would count them.
        self.calls: dict[str, dict[str, int]] = {}

    def configure(self, settings: QuotaSettings) -> None:
        """New settings; every bucket starts full again."""
        self.settings = settings
        self._buckets.clear()

    def admit(self, operation: str) -> bool:
        """Whether this call of ``operation`` fits its rate (always, when quotas are off)."""
        admitted = self._admit(operation)
        counts = self.calls.setdefault(operation, {"admitted": 0, "throttled": 0})
        counts["admitted" if admitted else "throttled"] += 1
        return admitted

    def _admit(self, operation: str) -> bool:
        rate = self.settings.rates.get(operation)
        if not self.settings.enabled or rate is None:
            return True
        bucket = self._buckets.get(operation)
        if bucket is None or bucket.rate != rate:
            bucket = self._buckets[operation] = TokenBucket.full(rate)
        return bucket.take()

    def forget_calls(self) -> None:
        self.calls.clear()

    def limit(self, name: str) -> int | None:
        """The count quota ``name``, or None when quotas are off."""
        return self.settings.counts[name] if self.settings.enabled else None

    def describe(self) -> dict[str, Any]:
        return {
            **self.settings.as_dict(),
            "tokens": {name: round(b.tokens, 3) for name, b in self._buckets.items()},
            "calls": {name: dict(counts) for name, counts in sorted(self.calls.items())},
        }
