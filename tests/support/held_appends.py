"""The event log's append, held by a test at a moment of its choosing: the real append runs
once the test releases it."""

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

Held = Callable[[Sequence[tuple[Any, str]]], bool]


class HeldAppends:
    """EventLog.append_many, except that appends whose events `hold_when`'s predicate picks
    wait until the test releases them."""

    def __init__(self, append: Callable[..., Any]) -> None:
        self._append = append
        self._held: Held | None = None
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    def hold_when(self, held: Held = lambda events: True) -> None:
        """Holds from now on the appends of the events `held` picks (every append by default)."""
        self._held = held

    async def __call__(self, chat_id: str, events: Sequence[tuple[Any, str]], **kwargs: Any) -> Any:
        if self._held is not None and self._held(events):
            self.holding.set()
            await self.release.wait()
        return await self._append(chat_id, events, **kwargs)
