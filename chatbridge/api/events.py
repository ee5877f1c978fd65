"""Reading a chat's events over HTTP: long-poll and Server-Sent Events.

Both read the chat's Redis event log (the source of truth) and use the channel layer only as a
doorbell: a fresh channel joins the chat's group (the relay rings it on every logged event),
then the log is read again, so nothing that arrives in between is missed, and nothing polls.
"""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from chatbridge.chats.events import ChatEvent
from chatbridge.chats.records import ChatSession
from chatbridge.errors import UnknownChat
from chatbridge.realtime.eventlog import EventLog, LoggedEvent
from chatbridge.realtime.relay import chat_group
from chatbridge.runtime import Runtime

SSE_BATCH = 500
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


async def _reload(runtime: Runtime, session: ChatSession) -> ChatSession:
    try:
        return await runtime.service.store.load(session.chat_id)
    except UnknownChat:
        return session


async def wait_for_events(
    runtime: Runtime, session: ChatSession, *, after: int, limit: int, wait: float
) -> tuple[list[LoggedEvent], ChatSession]:
    """The events after `after`; if none, waits up to `wait` s for one or for the chat's end."""
    chat_id = session.chat_id
    events = await runtime.log.read_after(chat_id, after, limit=limit)
    if events or wait <= 0 or not session.is_active:
        return events, session
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    async with Doorbell(chat_id) as bell:
        # Re-read after joining the group: an event logged before it joined is in the log.
        events = await runtime.log.read_after(chat_id, after, limit=limit)
        while not events:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            message = await bell.ring(remaining)
            if message is None:
                break
            if message.get("type") == "chat.ended":
                events = await runtime.log.read_after(chat_id, after, limit=limit)
                break
            if message.get("type") == "chat.event":
                events = await runtime.log.read_after(chat_id, after, limit=limit)
    return events, await _reload(runtime, session)


def sse_frame(event: str, data: str, *, event_id: int | None = None) -> str:
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"event: {event}")
    lines.extend(f"data: {line}" for line in data.split("\n"))
    return "\n".join(lines) + "\n\n"


async def sse_stream(runtime: Runtime, session: ChatSession, *, after: int) -> AsyncIterator[str]:
    """The chat's events as SSE: the logged ones after `after`, then live ones until it ends.

    Ends when the chat ends; when the client goes, the server cancels it.
    """
    chat_id = session.chat_id
    heartbeat = settings.CHATBRIDGE_API_SSE_HEARTBEAT
    last = after

    async def catch_up() -> AsyncIterator[str]:
        nonlocal last
        while True:
            batch = await runtime.log.read_after(chat_id, last, limit=SSE_BATCH)
            for logged in batch:
                last = logged.seq
                yield sse_frame("chat", logged.event.to_json(), event_id=logged.seq)
            if len(batch) < SSE_BATCH:
                return

    async with Doorbell(chat_id) as bell:
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
            message = await bell.ring(heartbeat)
            if message is None:
                yield ": keep-alive\n\n"
                continue
            kind = message.get("type")
            if kind == "chat.event":
                if message.get("seq", 0) > last:
                    async for frame in catch_up():
                        yield frame
            elif kind == "chat.ephemeral":
                event = ChatEvent.from_json(message["event"])
                if event.participant_id != session.participant_id:
                    yield sse_frame("typing", message["event"])
            elif kind == "chat.upstream":
                yield sse_frame("upstream", json.dumps({"status": message.get("status")}))
            elif kind == "chat.ended":
                async for frame in catch_up():
                    yield frame
                yield sse_frame("ended", json.dumps({"reason": message.get("reason", "")}))
                return
