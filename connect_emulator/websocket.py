"""The participant websocket, speaking Connect's protocol: ``aws/subscribe``,
``aws/heartbeat``, ``aws/ping`` and the ``aws/chat`` frames that carry each item as a JSON
string. One socket is bound to the connection token it was issued with and closes when that
token expires or is revoked, when its participant leaves, and after the chat ends."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from . import clock
from .faults import FaultBook, PushFault
from .state import Connection, Contact, Item, Store

CHAT_TOPIC = "aws/chat"
NORMAL_CLOSURE = 1000
ABNORMAL_CLOSURE = 1011
REFUSED = 1008


@dataclass(frozen=True)
class _Push:
    frame: str
    fault: PushFault | None


@dataclass(frozen=True)
class _Close:
    code: int
    reason: str


def chat_frame(item: Item) -> str:
    return json.dumps(
        {
            "topic": CHAT_TOPIC,
            "contentType": "application/json",
            "content": json.dumps(item.to_wire()),
        }
    )


def answer(frame: Any) -> dict[str, Any]:
    """The server's answer to one client frame (errors are answered, not closed on)."""
    if not isinstance(frame, dict) or not isinstance(frame.get("topic"), str):
        return {"message": "Invalid frame: expected a JSON object with a topic"}
    topic = frame["topic"]
    if topic == "aws/heartbeat":
        return {"topic": "aws/heartbeat"}
    if topic == "aws/ping":
        return {"topic": "aws/ping", "statusCode": 200, "statusContent": "OK"}
    if topic == "aws/subscribe":
        content = frame.get("content")
        topics = content.get("topics") if isinstance(content, dict) else None
        if not isinstance(topics, list) or CHAT_TOPIC not in topics:
            return {"message": "Invalid subscribe request: topics must include aws/chat"}
        return {"topic": "aws/subscribe", "content": {"status": "success", "topics": [CHAT_TOPIC]}}
    return {"message": f"Unsupported topic {topic!r}"}


class LiveSocket:
    """One accepted participant websocket."""

    def __init__(
        self, websocket: WebSocket, connection: Connection, faults: FaultBook | None = None
    ) -> None:
        self.websocket = websocket
        self.connection = connection
        self.faults = faults or FaultBook()
        self.subscribed = False
        self.queue: asyncio.Queue[_Push | _Close] = asyncio.Queue()
        self._send_lock = asyncio.Lock()
        self._stop: asyncio.Future[_Close] = asyncio.get_running_loop().create_future()

    @property
    def contact_id(self) -> str:
        return self.connection.contact_id

    def request_close(self, code: int, reason: str, graceful: bool) -> None:
        """Close now, or after the items already queued have gone out."""
        if graceful:
            self.queue.put_nowait(_Close(code, reason))
        elif not self._stop.done():
            self._stop.set_result(_Close(code, reason))

    async def serve(self) -> None:
        await self.websocket.accept()
        tasks = [
            asyncio.ensure_future(self._receive()),
            asyncio.ensure_future(self._push()),
            asyncio.ensure_future(self._expire()),
        ]
        try:
            await asyncio.wait([*tasks, self._stop], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._stop.done():
            close = self._stop.result()
            with contextlib.suppress(Exception):
                await self.websocket.close(code=close.code, reason=close.reason)

    async def _send(self, text: str) -> None:
        async with self._send_lock:
            await self.websocket.send_text(text)

    async def _receive(self) -> None:
        try:
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                text = message.get("text")
                try:
                    frame = json.loads(text) if text is not None else None
                except ValueError:
                    frame = None
                reply = answer(frame)
                if reply.get("topic") == "aws/heartbeat" and self.faults.take_silence(
                    self.contact_id
                ):
                    continue
                if reply.get("topic") == "aws/subscribe":
                    self.subscribed = True
                await self._send(json.dumps(reply))
        except (WebSocketDisconnect, RuntimeError):
            return

    async def _push(self) -> None:
        held: _Push | None = None
        while True:
            if held is None:
                entry = await self.queue.get()
            else:
                try:
                    hold = held.fault.reorder_hold_ms / 1000 if held.fault else 0
                    entry = await asyncio.wait_for(self.queue.get(), hold)
                except TimeoutError:
                    await self._deliver(held)
                    held = None
                    continue
            if isinstance(entry, _Close):
                if held is not None:
                    await self._deliver(held)
                if not self._stop.done():
                    self._stop.set_result(entry)
                return
            fault = entry.fault
            if fault is not None and fault.delay_ms:
                await asyncio.sleep(fault.delay_ms / 1000)
            if fault is not None and fault.reorder and held is None:
                held = entry
                continue
            await self._deliver(entry)
            if held is not None:
                await self._deliver(held)
                held = None

    async def _deliver(self, push: _Push) -> None:
        await self._send(push.frame)
        if push.fault is not None and push.fault.duplicate:
            await self._send(push.frame)

    async def _expire(self) -> None:
        await asyncio.sleep(max(self.connection.expires_at - clock.now(), 0))
        self.request_close(NORMAL_CLOSURE, "Connection token expired", graceful=False)


class SocketHub:
    """All live participant sockets; fans items out to the subscribed ones."""

    def __init__(
        self, store: Store, faults: FaultBook, socket_limit: Callable[[], int | None]
    ) -> None:
        self.store = store
        self.faults = faults
        # Open websockets allowed per participant (None: no limit).
        self.socket_limit = socket_limit
        self.sockets: set[LiveSocket] = set()
        # Per contact: the most websockets one of its participants had open at once, and
        # how many were refused at the per-participant cap.
        self.peaks: dict[str, int] = {}
        self.refused: dict[str, int] = {}
        store.item_listeners.append(self.on_item)
        store.close_listeners.append(self.on_close)

    def on_item(self, contact: Contact, item: Item) -> None:
        targets = [s for s in self.sockets if s.contact_id == contact.contact_id and s.subscribed]
        if not targets:
            return
        push = _Push(chat_frame(item), self.faults.take_push(contact.contact_id))
        for socket in targets:
            socket.queue.put_nowait(push)

    def on_close(self, connections: list[Connection], reason: str, graceful: bool) -> None:
        tokens = {c.connection_token for c in connections}
        for socket in list(self.sockets):
            if socket.connection.connection_token in tokens:
                socket.request_close(NORMAL_CLOSURE, reason, graceful)

    def close_expired(self, moment: float) -> None:
        """Close the sockets whose connection token has expired by ``moment`` (a socket also
        watches its own expiry in real time; this catches a clock moved forward)."""
        for socket in list(self.sockets):
            if not socket.connection.valid(moment):
                socket.request_close(NORMAL_CLOSURE, "Connection token expired", graceful=False)

    def open_count(self, participant_id: str) -> int:
        return sum(1 for s in self.sockets if s.connection.participant_id == participant_id)

    def drop(self, contact_id: str) -> int:
        """Close every socket of the contact abruptly (1011), as a network fault would."""
        dropped = [s for s in self.sockets if s.contact_id == contact_id]
        for socket in dropped:
            socket.request_close(ABNORMAL_CLOSURE, "Connection dropped", graceful=False)
        return len(dropped)

    def close_all(self, reason: str) -> None:
        for socket in list(self.sockets):
            socket.request_close(1012, reason, graceful=False)

    def _at_socket_limit(self, participant_id: str) -> bool:
        limit = self.socket_limit()
        return limit is not None and self.open_count(participant_id) >= limit

    def clear_counts(self) -> None:
        self.peaks.clear()
        self.refused.clear()

    def describe(self, contact_id: str) -> list[dict[str, Any]]:
        return [
            {"participant_id": s.connection.participant_id, "subscribed": s.subscribed}
            for s in self.sockets
            if s.contact_id == contact_id
        ]

    async def endpoint(self, websocket: WebSocket) -> None:
        """``/connection?X-Amz-Security-Token=...``: refused (HTTP 403) once the URL has
        expired or its connection is no longer valid, and when its participant already has
        as many open websockets as Connect allows."""
        token = websocket.query_params.get("X-Amz-Security-Token", "")
        connection = self.store.websocket_urls.get(token)
        moment = clock.now()
        participant = self.store.participant_for(connection) if connection else None
        contact = self.store.contacts.get(connection.contact_id) if connection else None
        if (
            connection is None
            or moment >= connection.websocket_expires_at
            or not connection.valid(moment)
            or participant is None
            or not participant.active
            or contact is None
            or not contact.active
        ):
            await websocket.close(code=REFUSED)
            return
        if self._at_socket_limit(connection.participant_id):
            self.refused[contact.contact_id] = self.refused.get(contact.contact_id, 0) + 1
            await websocket.close(code=REFUSED)
            return
        socket = LiveSocket(websocket, connection, self.faults)
        self.sockets.add(socket)
        self.peaks[contact.contact_id] = max(
            self.peaks.get(contact.contact_id, 0), self.open_count(connection.participant_id)
        )
        try:
            await socket.serve()
        finally:
            self.sockets.discard(socket)
