"""Reading a chat's events over HTTP: long-poll and Server-Sent Events.

Both read the chat's Redis event log (the source of truth) and use the relay only as a
doorbell (chatbridge.realtime.doorbell): the reader follows the chat in this process's relay
(which rings it on every logged event), then the log is read again, so nothing that arrives
in between is missed, and nothing polls. What a doorbell means is the websocket's rule
(chatbridge.realtime.follower).
"""

import asyncio
import json
from collections.abc import AsyncIterator

from django.conf import settings

from chatbridge.chats.records import ChatSession
from chatbridge.errors import UnknownChat
from chatbridge.metrics import HTTP_STREAMS
from chatbridge.realtime.doorbell import Doorbell
from chatbridge.realtime.eventlog import EventLog, LoggedEvent
from chatbridge.realtime.follower import LogCursor, Ring, observe_delivery, shows_typing
from chatbridge.runtime import Runtime

FIND_SEQ_SCAN = 2000


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


async def wait_for_events(
    runtime: Runtime, session: ChatSession, *, after: int, limit: int, wait: float
) -> tuple[list[LoggedEvent], ChatSession]:
    """The events after `after`; if none, waits up to `wait` s for one or for the chat's end.

    A doorbell that is not a duplicate reads the log, NEXT included: the answer is a page of
    up to `limit` events, and more may have been logged behind the one it rang for."""
    cursor = LogCursor(runtime.log, session.chat_id, after)

    async def page() -> list[LoggedEvent]:
        return [logged async for logged in cursor.catch_up(limit=limit)]

    events = await page()
    if events or wait <= 0 or not session.is_active:
        return events, session
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    async with Doorbell(runtime.relay, session.chat_id) as bell:
        # Re-read after following: an event logged before it followed is in the log.
        events = await page()
        with HTTP_STREAMS.labels(kind="long_poll").track_inprogress():
            while not events:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                message = await bell.next(remaining)
                if message is None:
                    break
                kind = message.get("type")
                if kind == "chat.ended":
                    events = await page()
                    break
                seq = message.get("seq", 0)
                if kind == "chat.event" and cursor.ring(seq) is not Ring.DUPLICATE:
                    events = await page()
    return events, await _reload(runtime, session)


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
