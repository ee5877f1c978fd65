"""Reading a chat's events over HTTP: long-poll and Server-Sent Events.

Both read the chat's Redis event log (the source of truth) and use the relay as a doorbell
(chatbridge.realtime.doorbell): the reader follows the chat in this process's relay (which
rings it on every logged event) before it reads the log, so nothing logged after the read is
missed, and nothing polls. What a doorbell means is the websocket's rule
(chatbridge.realtime.follower): the next event's doorbell carries the event itself.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from chatbridge.chats.events import ChatEvent
from chatbridge.chats.records import ChatSession
from chatbridge.errors import UnknownChat
from chatbridge.metrics import HTTP_STREAMS
from chatbridge.realtime.doorbell import Doorbell
from chatbridge.realtime.eventlog import EventLog, LoggedEvent
from chatbridge.realtime.follower import LogCursor, Ring, observe_delivery, shows_typing
from chatbridge.runtime import Runtime

FIND_SEQ_SCAN = 2000
# Seconds at most a long-poll with events waits for those this process is logging for the chat
# (Relay.settled): an append takes milliseconds.
SETTLE_WAIT = 0.5


async def find_seq(log: EventLog, chat_id: str, item_id: str) -> int | None:
    """The seq of an already logged event, looked up from the newest backwards."""
    before = (await log.cursor(chat_id)).last_seq + 1
    scanned = 0
    while before > 1 and scanned < FIND_SEQ_SCAN:
        batch = await log.read_before(chat_id, before, limit=200)
        if not batch:
            return None
        for logged in reversed(batch):
            if logged.event.id == item_id:
                return logged.seq
        before = batch[0].seq
        scanned += len(batch)
    return None


async def _reload(runtime: Runtime, session: ChatSession) -> ChatSession:
    try:
        return await runtime.service.store.load(session.chat_id)
    except UnknownChat:
        return session


@dataclass(frozen=True, slots=True)
class EventsPage:
    """A long-poll's answer: the events, the log's newest seq, and the chat as it stands."""

    events: list[LoggedEvent]
    last_seq: int
    session: ChatSession


def _rung(cursor: LogCursor, message: dict[str, Any]) -> LoggedEvent | Ring | None:
    """What a doorbell gives a waiting long-poll: the next event itself (its copy is the
    logged one; the cursor moves past it), Ring.GAP when the log must be read (doorbells went
    missing), or None (nothing new for it)."""
    if message.get("type") != "chat.event":
        return None
    seq, item_id = message.get("seq", 0), message.get("id")
    ring = cursor.ring(seq, item_id)
    if ring is not Ring.NEXT:
        return ring if ring is Ring.GAP else None
    if item_id is None:
        cursor.last_seq = seq
    else:
        cursor.delivered(seq, item_id)
    return LoggedEvent(seq=seq, event=ChatEvent.from_json(message["event"]))


def _newest(bell: Doorbell, last_seq: int) -> int:
    """The newest seq of the events rung so far: a full page's `last_seq`, past the page's
    last event when more are waiting."""
    while (message := bell.heard()) is not None:
        if message.get("type") == "chat.event":
            last_seq = max(last_seq, message.get("seq", 0))
    return last_seq


async def wait_for_events(
    runtime: Runtime,
    session: ChatSession,
    *,
    after: int,
    limit: int,
    wait: float,
    address: str | None = None,
) -> EventsPage:
    """The events after `after`; if none, waits up to `wait` s for one or for the chat's end.

    A long-poll is a live connection, under the chat's and `address`'s caps as a stream is
    (TooManyConnections). It follows the chat, then takes its slot and reads the log in one
    round trip: whatever is logged after that read rings its doorbell. A doorbell for the
    next event answers with the doorbell's own copy, and those of the events rung with it,
    without reading the log again (`last_seq` is then the newest seq rung), and those that
    this process is logging for the chat at that moment (Relay.settled): an agent's answer
    right behind the customer's message goes with it, instead of in the next poll. Missing
    doorbells, the chat's end or the wait running out read the log. The slot is given back
    as the poll answers, without the answer waiting for it."""
    cursor = LogCursor(runtime.log, session.chat_id, after)
    if wait <= 0 or not session.is_active:
        events, last_seq = await cursor.page(limit)
        return EventsPage(events, last_seq, session)
    async with Doorbell(runtime.relay, session.chat_id) as bell:
        slot, (events, last_seq) = await runtime.slots.acquire_reading(
            lambda pipe: cursor.queue_page(pipe, limit), chat_id=session.chat_id, address=address
        )
        try:
            if events:
                return EventsPage(events, last_seq, session)
            with HTTP_STREAMS.labels(kind="long_poll").track_inprogress():
                events, last_seq, answered = await _rung_page(
                    bell, cursor, last_seq, limit=limit, wait=wait
                )
            if answered:
                return EventsPage(events, last_seq, session)
        finally:
            runtime.slots.release_soon(slot)
    # Out of time, or the chat ended: the log has whatever the doorbells missed.
    more, last_seq = await cursor.page(limit - len(events))
    return EventsPage(events + more, last_seq, await _reload(runtime, session))


async def _rung_page(
    bell: Doorbell, cursor: LogCursor, last_seq: int, *, limit: int, wait: float
) -> tuple[list[LoggedEvent], int, bool]:
    """Waits up to `wait` s at the bell for the events after the cursor: those it rang, the
    newest seq, and whether that is the answer (False: the wait ran out or the chat ended)."""
    events: list[LoggedEvent] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while (remaining := deadline - loop.time()) > 0:
        message = await bell.next(remaining)
        settled = False
        gap = False
        while message is not None:
            if message.get("type") == "chat.ended":
                return events, last_seq, False
            rung = _rung(cursor, message)
            if rung is Ring.GAP:
                gap = True
            elif isinstance(rung, LoggedEvent):
                events.append(rung)
                last_seq = max(last_seq, rung.seq)
                if len(events) == limit:
                    return events, _newest(bell, last_seq), True
            message = bell.heard()
            if message is None and events and not settled:
                # What Connect delivered right behind is being logged here: take it along.
                settled = True
                await bell.relay.settled(cursor.chat_id, SETTLE_WAIT)
                message = bell.heard()
        if gap:
            more, last_seq = await cursor.page(limit - len(events))
            events += more
        if events:
            return events, last_seq, True
    return events, last_seq, False


def sse_frame(event: str, data: str, *, event_id: int | None = None) -> str:
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"event: {event}")
    lines.extend(f"data: {line}" for line in data.split("\n"))
    return "\n".join(lines) + "\n\n"


def chat_frame(seq: int, event_json: str) -> str:
    return sse_frame("chat", event_json, event_id=seq)


async def sse_stream(runtime: Runtime, session: ChatSession, *, after: int) -> AsyncIterator[str]:
    """The chat's events as SSE: the logged ones after `after`, then live ones until it ends.

    Ends when the chat ends; when the client goes, the server cancels it.
    """
    chat_id = session.chat_id
    heartbeat = settings.CHATBRIDGE_API_SSE_HEARTBEAT
    cursor = LogCursor(runtime.log, chat_id, after)

    async def catch_up() -> AsyncIterator[str]:
        async for logged in cursor.catch_up():
            yield chat_frame(logged.seq, logged.event.to_json())

    with HTTP_STREAMS.labels(kind="sse").track_inprogress():
        async with Doorbell(runtime.relay, chat_id) as bell:
            yield "retry: 3000\n\n"
            async for frame in catch_up():
                yield frame
            session = await _reload(runtime, session)
            if not session.is_active:
                yield sse_frame("ended", json.dumps({"reason": session.ended_reason}))
                return
            status = await runtime.relay.current_upstream_status(chat_id)
            yield sse_frame("upstream", json.dumps({"status": status}))
            while True:
                message = await bell.next(heartbeat)
                if message is None:
                    yield ": keep-alive\n\n"
                    continue
                kind = message.get("type")
                if kind == "chat.event":
                    seq, item_id = message.get("seq", 0), message.get("id")
                    ring = cursor.ring(seq, item_id)
                    if ring is Ring.NEXT:
                        yield chat_frame(seq, message["event"])
                        if item_id is None:
                            cursor.last_seq = seq
                        else:
                            cursor.delivered(seq, item_id)
                        observe_delivery(message)
                    elif ring is Ring.GAP:
                        async for frame in catch_up():
                            yield frame
                elif kind == "chat.ephemeral":
                    if shows_typing(message["event"], session.participant_id):
                        yield sse_frame("typing", message["event"])
                elif kind == "chat.upstream":
                    yield sse_frame("upstream", json.dumps({"status": message.get("status")}))
                elif kind == "chat.ended":
                    async for frame in catch_up():
                        yield frame
                    yield sse_frame("ended", json.dumps({"reason": message.get("reason", "")}))
                    return
