"""A doorbell of one's own for one chat: a fresh channel in the chat's channel layer group.

For readers that live for one HTTP request (the long-poll and Server-Sent Events): the relay
of whichever process logs an event rings the chat's group with its seq (chatbridge.realtime.
relay), and such a reader, with no place in the relay's fan-out, hears it on this channel.
"""

import asyncio
import contextlib
from typing import Any

from channels.layers import get_channel_layer

from chatbridge.realtime.relay import chat_group


class Doorbell:
    """A fresh channel in the chat's group, for as long as the context lasts."""

    def __init__(self, chat_id: str) -> None:
        self.layer = get_channel_layer()
        self.group = chat_group(chat_id)
        self.channel = ""

    async def __aenter__(self) -> "Doorbell":
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(self.group, self.channel)
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            await asyncio.shield(self.layer.group_discard(self.group, self.channel))

    async def ring(self, timeout: float) -> dict[str, Any] | None:
        """The next message, or None after `timeout` seconds."""
        try:
            async with asyncio.timeout(timeout):
                return await self.layer.receive(self.channel)
        except TimeoutError:
            return None
