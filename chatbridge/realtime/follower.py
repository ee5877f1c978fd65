"""Following a chat's event log on a websocket: in order, without gaps or duplicates.

Shared by the customer's consumer (/ws/chat/) and the staff's live transcript view. Each
doorbell (a ``chat.event`` message) names the event's seq. The next seq is sent at once; an
older one is a duplicate; a newer one means a doorbell was lost, so the log is re-read after
the last seq sent. The customer's consumer is rung by the relay of its process (see
chatbridge.realtime.relay); the staff's view joins the chat's channel layer group itself.
"""

import asyncio
from typing import Any

from channels.consumer import get_handler_name

from chatbridge.realtime.eventlog import EventLog

CATCH_UP_BATCH = 500


class EventLogFollower:
    """A websocket consumer mixin. The consumer sets `last_seq` and `delivery` (a lock held
    while sending events) and says which chat it follows with `followed_chat()`."""

    last_seq: int
    delivery: asyncio.Lock
    # Channels' dispatch closes stale database connections first, a thread hop per message;
    # a consumer that never touches the database says so and skips it.
    touches_database = True

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch, minus its database upkeep for a consumer that needs none."""
        if self.touches_database:
            await super().dispatch(message)  # type: ignore[misc]
            return
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def ring(self, message: dict[str, Any]) -> None:
        """A message rung by the relay in this process: straight to its handler."""
        await getattr(self, get_handler_name(message))(message)

    def followed_chat(self) -> tuple[EventLog, str]:
        raise NotImplementedError

    async def send_logged(self, seq: int, event_json: str) -> None:
        """Sends one logged event, in the consumer's own frame."""
        raise NotImplementedError

    async def _catch_up(self) -> None:
        """Sends every logged event after last_seq; callers hold the delivery lock."""
        log, chat_id = self.followed_chat()
        while True:
            batch = await log.read_after(chat_id, self.last_seq, limit=CATCH_UP_BATCH)
            for logged in batch:
                await self.send_logged(logged.seq, logged.event.to_json())
                self.last_seq = logged.seq
            if len(batch) < CATCH_UP_BATCH:
                return

    # Channel layer handler: the doorbell rings with the event and its seq.

    async def chat_event(self, message: dict[str, Any]) -> None:
        seq = message["seq"]
        async with self.delivery:
            if seq <= self.last_seq:
                return
            if seq == self.last_seq + 1:
                await self.send_logged(seq, message["event"])
                self.last_seq = seq
            else:
                await self._catch_up()
