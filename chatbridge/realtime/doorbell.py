"""A doorbell of one's own for one chat: a follower of the chat in this process's relay.

For readers that live for one HTTP request (the long-poll and Server-Sent Events): the relay
rings this process's followers of a chat directly, whether it logged the event itself or heard
of it from another process through its inbox (chatbridge.realtime.relay), as it rings the
websocket's. A reader used to take a channel layer channel of its own instead: then every
event of a chat read over REST cost channel layer messages that the process's one channel
layer reader took off Redis one at a time, a few round trips each, and with a couple of
hundred long-polls that queue held the wake-ups back by seconds (docs/performance.md).

A mobile app long-polls again as soon as it is answered: its doorbell leaves the chat
lingering (Relay.unfollow), so that this process stays in the chat's channel layer group for
the next long-poll instead of leaving and joining it again, two round trips each, per poll.
"""

import asyncio
import contextlib
from typing import Any

from chatbridge.realtime.relay import Relay


class Doorbell:
    """A follower of the chat for as long as the context lasts; what it heard, in order."""

    def __init__(self, relay: Relay, chat_id: str) -> None:
        self.relay = relay
        self.chat_id = chat_id
        self._heard: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def __aenter__(self) -> "Doorbell":
        await self.relay.follow(self.chat_id, self)
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            await asyncio.shield(self.relay.unfollow(self.chat_id, self, linger=True))

    async def ring(self, message: dict[str, Any]) -> None:
        """The relay's call (chatbridge.realtime.fanout.Follower)."""
        self._heard.put_nowait(message)

    def heard(self) -> dict[str, Any] | None:
        """The next message if one is already here, without waiting: what rang together
        (the events of one append) is answered together."""
        try:
            return self._heard.get_nowait()
        except asyncio.QueueEmpty:
            return None

    async def next(self, timeout: float) -> dict[str, Any] | None:
        """The next message, or None after `timeout` seconds."""
        try:
            async with asyncio.timeout(timeout):
                return await self._heard.get()
        except TimeoutError:
            return None
