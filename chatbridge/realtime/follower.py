"""Following a chat's event log: in order, without gaps or duplicates.

Every reader of a chat's events does the same, whatever it speaks: the customer's websocket
(chatbridge.ws), the staff's live view (chatbridge.archive.live), the long-poll and the
Server-Sent Events (chatbridge.api.events). It reads the log after the last seq it delivered,
then waits for doorbells, each naming the seq of the event it rings for. The channel layer
drops doorbells when a channel is full, and a doorbell may come after a re-read of the log
that already delivered its event; the log has every event, so the seq alone says what a
doorbell means (LogCursor.ring).

After a Redis failover that lost the log's last entries, the upstream logs them again from
Connect's transcript under new seqs (chatbridge.realtime.eventlog): a reader that delivered
them before the failover recognises them by their Connect id and skips them.
"""

import asyncio
import collections
import enum
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from channels.consumer import get_handler_name
from redis.asyncio.client import Pipeline

from chatbridge.chats.events import ChatEvent
from chatbridge.metrics import EVENT_DELIVERY_LAG
from chatbridge.realtime.eventlog import EventLog, LoggedEvent

# Events read from the log at once when catching up.
CATCH_UP_BATCH = 500
# The Connect ids a reader remembers delivering: more than a failover can lose in practice
# (what the old primary acknowledged but had not yet replicated).
REMEMBERED_IDS = 32


class Ring(enum.Enum):
    """What a doorbell means to a reader."""

    DUPLICATE = "duplicate"  # its event was delivered already: drop it
    NEXT = "next"  # the event right after the last delivered: the doorbell's copy will do
    GAP = "gap"  # doorbells went missing: read the log after the last delivered seq


class LogCursor:
    """One reader's place in a chat's event log: the last seq it delivered."""

    __slots__ = ("log", "chat_id", "last_seq", "_delivered")

    def __init__(self, log: EventLog, chat_id: str, last_seq: int = 0) -> None:
        self.log = log
        self.chat_id = chat_id
        self.last_seq = last_seq
        # Hashes, not the ids: a reader of every chat keeps this for each of its clients.
        self._delivered: collections.deque[int] = collections.deque(maxlen=REMEMBERED_IDS)

    def ring(self, seq: int, item_id: str | None = None) -> Ring:
        """What a doorbell for `seq` (of the item `item_id`) means. The reader delivers NEXT's
        event from the doorbell itself, without a read, then calls delivered(); a GAP is
        filled by catch_up(). An item delivered before under another seq is a DUPLICATE
        that moves `last_seq` on."""
        if seq <= self.last_seq:
            return Ring.DUPLICATE
        if seq == self.last_seq + 1:
            if item_id is not None and hash(item_id) in self._delivered:
                self.last_seq = seq
                return Ring.DUPLICATE
            return Ring.NEXT
        return Ring.GAP

    def rewind(self, seq: int) -> None:
        """Moves the cursor back to `seq`, to deliver again what came after: the reader asked
        for it, so nothing delivered counts as delivered any more."""
        if seq < self.last_seq:
            self.last_seq = seq
            self._delivered.clear()

    def has_delivered(self, item_id: str) -> bool:
        """Whether the reader delivered this item lately (its last REMEMBERED_IDS)."""
        return hash(item_id) in self._delivered

    def delivered(self, seq: int, item_id: str) -> None:
        """Moves the cursor to an event the reader delivered."""
        self.last_seq = seq
        self._delivered.append(hash(item_id))

    async def page(self, limit: int) -> tuple[list[LoggedEvent], int]:
        """Up to `limit` logged events after `last_seq`, moving the cursor past them, and the
        log's newest seq: one round trip, for a reader that answers a page at a time."""
        return self._turn(*await self.log.read_page(self.chat_id, self.last_seq, limit=limit))

    def queue_page(
        self, pipe: Pipeline, limit: int
    ) -> Callable[[Sequence[Any]], tuple[list[LoggedEvent], int]]:
        """page(), queued on `pipe` to share a round trip; the call that answers it from the
        pipeline's results for its commands."""
        answer = self.log.queue_page(pipe, self.chat_id, self.last_seq, limit=limit)
        return lambda results: self._turn(*answer(results))

    def _turn(self, batch: list[LoggedEvent], newest: int) -> tuple[list[LoggedEvent], int]:
        events = []
        for logged in batch:
            if hash(logged.event.id) in self._delivered:
                self.last_seq = logged.seq
                continue
            events.append(logged)
            self.delivered(logged.seq, logged.event.id)
        return events, newest

    async def catch_up(self, *, limit: int | None = None) -> AsyncIterator[LoggedEvent]:
        """Yields the logged events after `last_seq` (at most `limit`), reading a batch at a
        time until the log's end.

        `last_seq` moves to an event once the reader asks for the next, that is once it has
        delivered it: a reader that fails on one leaves the cursor before it."""
        left = limit
        while left is None or left > 0:
            size = CATCH_UP_BATCH if left is None else min(left, CATCH_UP_BATCH)
            batch = await self.log.read_after(self.chat_id, self.last_seq, limit=size)
            for logged in batch:
                if hash(logged.event.id) in self._delivered:
                    self.last_seq = logged.seq
                    continue
                yield logged
                self.delivered(logged.seq, logged.event.id)
            if len(batch) < size:
                return
            if left is not None:
                left -= size


def observe_delivery(message: dict[str, Any]) -> None:
    """Records how long a rung event took from its append to its delivery to a client."""
    logged_at = message.get("logged_at")
    if isinstance(logged_at, int | float):
        EVENT_DELIVERY_LAG.observe(max(time.time() - logged_at, 0.0))


def shows_typing(event_json: str, participant_id: str | None) -> bool:
    """Whether a typing indicator is one for this participant to see. Connect pushes every
    participant's typing to all of them, the typer's own included, and a UI that showed it
    would tell the customer that they themselves are typing."""
    return (
        participant_id is not None
        and ChatEvent.from_json(event_json).participant_id != participant_id
    )


class EventLogFollower:
    """A websocket consumer mixin that sends a chat's logged events, in the consumer's own
    frames (send_logged), each once and in order.

    The consumer creates `delivery` (a lock held while sending events) when it connects, and
    starts with follow_log(). Doorbells rung before that are dropped: the first catch-up reads
    what they rang for."""

    cursor: LogCursor | None = None
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

    async def send_logged(self, seq: int, event_json: str, item_id: str | None) -> None:
        """Sends one logged event, in the consumer's own frame."""
        raise NotImplementedError

    async def follow_log(self, cursor: LogCursor) -> None:
        """Starts following at `cursor`: sends what the log holds after it."""
        async with self.delivery:
            self.cursor = cursor
            await self._send_missed(cursor)

    async def catch_up(self, *, rewind_to: int | None = None) -> int:
        """Sends every logged event after the cursor, first moved back to `rewind_to` if that
        is earlier; the last seq sent (0 before follow_log)."""
        async with self.delivery:
            cursor = self.cursor
            if cursor is None:
                return 0
            if rewind_to is not None:
                cursor.rewind(rewind_to)
            await self._send_missed(cursor)
            return cursor.last_seq

    async def _send_missed(self, cursor: LogCursor) -> None:
        async for logged in cursor.catch_up():
            await self.send_logged(logged.seq, logged.event.to_json(), logged.event.id)

    # Channel layer handler: the doorbell rings with the event and its seq.

    async def chat_event(self, message: dict[str, Any]) -> None:
        seq = message["seq"]
        async with self.delivery:
            cursor = self.cursor
            if cursor is None:
                return
            item_id = message.get("id")
            ring = cursor.ring(seq, item_id)
            if ring is Ring.NEXT:
                await self.send_logged(seq, message["event"], item_id)
                if item_id is None:
                    cursor.last_seq = seq
                else:
                    cursor.delivered(seq, item_id)
                observe_delivery(message)
            elif ring is Ring.GAP:
                await self._send_missed(cursor)
