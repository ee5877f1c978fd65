"""Injected faults: API calls that fail (throttle or server error) or are held unanswered until
the faults are cleared, and websocket pushes that are delayed, duplicated or re-ordered, so
that tests can prove a client copes with them (and what it does while a call is on its way)."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

FAULT_KINDS = ("throttle", "error", "hold")


@dataclass
class ApiFault:
    operation: str
    kind: str
    remaining: int


@dataclass(frozen=True)
class PushFault:
    """What to do to one pushed item on every socket of its contact."""

    delay_ms: int = 0
    duplicate: bool = False
    reorder: bool = False
    # How long a re-ordered item waits for a partner to swap with before going out alone.
    reorder_hold_ms: int = 1000


@dataclass
class _PushFaultBudget:
    fault: PushFault
    remaining: int


class FaultBook:
    """Pending faults, consumed one call (or one pushed item) at a time, first added first."""

    def __init__(self) -> None:
        self._api: deque[ApiFault] = deque()
        self._push: dict[str, deque[_PushFaultBudget]] = {}
        self._silence: dict[str, int] = {}
        self._held = 0
        self._release: asyncio.Event | None = None
        self._held_changed = asyncio.Condition()

    def clear(self) -> None:
        """Forgets every pending fault and lets every held call go on."""
        self._api.clear()
        self._push.clear()
        self._silence.clear()
        if self._release is not None:
            self._release.set()
            self._release = None

    async def hold(self) -> None:
        """Keeps a call (a "hold" fault) waiting until the faults are cleared."""
        if self._release is None:
            self._release = asyncio.Event()
        release = self._release
        await self._count_held(1)
        try:
            await release.wait()
        finally:
            await self._count_held(-1)

    async def _count_held(self, change: int) -> None:
        async with self._held_changed:
            self._held += change
            self._held_changed.notify_all()

    async def until_held(self, count: int, *, timeout: float) -> bool:
        """Whether `count` calls are held, waiting up to `timeout` seconds for them."""
        async with self._held_changed:
            try:
                async with asyncio.timeout(timeout):
                    await self._held_changed.wait_for(lambda: self._held >= count)
            except TimeoutError:
                return False
        return True

    def add_silence(self, contact_id: str, count: int) -> None:
        """The next `count` heartbeats on the contact's sockets go unanswered."""
        self._silence[contact_id] = self._silence.get(contact_id, 0) + count

    def take_silence(self, contact_id: str) -> bool:
        remaining = self._silence.get(contact_id, 0)
        if remaining <= 0:
            return False
        if remaining == 1:
            del self._silence[contact_id]
        else:
            self._silence[contact_id] = remaining - 1
        return True

    def add_api(self, operation: str, kind: str, count: int) -> ApiFault:
        fault = ApiFault(operation, kind, count)
        self._api.append(fault)
        return fault

    def take_api(self, operation: str) -> str | None:
        """The fault kind for this call of ``operation``, if one is pending."""
        for fault in self._api:
            if fault.operation == operation and fault.remaining > 0:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._api.remove(fault)
                return fault.kind
        return None

    def add_push(self, contact_id: str, fault: PushFault, count: int) -> None:
        self._push.setdefault(contact_id, deque()).append(_PushFaultBudget(fault, count))

    def take_push(self, contact_id: str) -> PushFault | None:
        budgets = self._push.get(contact_id)
        if not budgets:
            return None
        budget = budgets[0]
        budget.remaining -= 1
        if budget.remaining <= 0:
            budgets.popleft()
        return budget.fault

    def describe(self) -> dict[str, Any]:
        return {
            "api": [asdict(fault) for fault in self._api],
            "websockets": [
                {"contact_id": contact_id, "remaining": b.remaining, **asdict(b.fault)}
                for contact_id, budgets in self._push.items()
                for b in budgets
            ],
            "unanswered_heartbeats": dict(self._silence),
            "held": self._held,
        }
