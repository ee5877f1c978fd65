"""Publishes a chat's events: into its event log, then to every client through Channels.

The channel layer is a doorbell, not a log: it drops messages when a channel is full, so
each message carries the event's seq and consumers re-read the log when they see a gap.
"""

import logging

import redis.asyncio as aioredis
from channels.layers import BaseChannelLayer

from chatbridge.eventlog import EventLog
from chatbridge.events import ChatEvent

logger = logging.getLogger(__name__)


def chat_group(chat_id: str) -> str:
    return f"chat.{chat_id}"


class Relay:
    def __init__(
        self, log: EventLog, layer: BaseChannelLayer, redis: aioredis.Redis, *, prefix: str
    ) -> None:
        self.log = log
        self.layer = layer
        self._redis = redis
        self._prefix = prefix

    def _status_key(self, chat_id: str) -> str:
        return f"{self._prefix}:chat:{chat_id}:upstream"

    async def publish(
        self, chat_id: str, event: ChatEvent, *, from_connect: bool = True
    ) -> int | None:
        """Logs and fans out the event; its seq, or None if ephemeral or already logged.

        `from_connect` is False for what ChatBridge logs on its own (a message it just sent).
        """
        if event.is_ephemeral:
            await self.layer.group_send(
                chat_group(chat_id), {"type": "chat.ephemeral", "event": event.to_json()}
            )
            return None
        seq = await self.log.append(chat_id, event, from_connect=from_connect)
        logger.debug("chat_id=%s item=%s type=%s seq=%s", chat_id, event.id, event.type, seq)
        if seq is not None:
            await self.layer.group_send(
                chat_group(chat_id), {"type": "chat.event", "seq": seq, "event": event.to_json()}
            )
        return seq

    async def upstream_status(self, chat_id: str, status: str) -> None:
        """Tells clients whether ChatBridge is connected to Connect ("connected" or
        "reconnecting"), so that a UI can say so."""
        await self._redis.set(self._status_key(chat_id), status, ex=3600)
        await self.layer.group_send(
            chat_group(chat_id), {"type": "chat.upstream", "status": status}
        )

    async def current_upstream_status(self, chat_id: str) -> str:
        """The last status any process published; "reconnecting" until one connects."""
        status = await self._redis.get(self._status_key(chat_id))
        return status.decode() if status else "reconnecting"

    async def ended(self, chat_id: str, reason: str) -> None:
        await self.layer.group_send(chat_group(chat_id), {"type": "chat.ended", "reason": reason})
