"""A chat client that behaves as the websocket protocol asks a real one to: when its websocket
closes (its process stopped with 4012, or died), it connects again, through the same proxy
URL, and resumes after the last seq it holds. It keeps what a test or the rolling bench compares afterwards: the
seq of every event it received (a seq twice is a doubled event, a missing one a lost event),
the upstream statuses it was told, and how long each resume took."""

import asyncio
import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from chatbridge.dev.processes import ORIGIN

Frame = dict[str, Any]
# The client's own pause between attempts while no process answers (a browser's widget
# backs off too); not a wait on anything a test checks.
RETRY_DELAY = 0.1


@dataclass(frozen=True)
class Resume:
    """One reconnect: the close code that caused it and the seconds until `ready` again."""

    close_code: int | None
    seconds: float


@dataclass
class ResumingClient:
    url: str
    token: str
    chat_id: str
    tls: ssl.SSLContext | None = None
    origin: str = ORIGIN
    # Called with the client on every `upstream: connected` frame, as it arrives.
    on_connected: Callable[["ResumingClient"], None] | None = None
    seqs: list[int] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    resumes: list[Resume] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _socket: ClientConnection | None = None
    _task: asyncio.Task | None = None
    _stopping: bool = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"client-{self.chat_id}")

    @property
    def last_seq(self) -> int:
        return self.seqs[-1] if self.seqs else 0

    async def _run(self) -> None:
        closed_at: float | None = None
        close_code: int | None = None
        while not self._stopping:
            try:
                socket = await websockets.connect(
                    self.url, origin=self.origin, ssl=self.tls, open_timeout=10, ping_interval=None
                )
            except (OSError, TimeoutError, websockets.InvalidHandshake):
                await asyncio.sleep(RETRY_DELAY)
                continue
            self._socket = socket
            try:
                await socket.send(
                    json.dumps({"type": "auth", "token": self.token, "after": self.last_seq})
                )
                async for text in socket:
                    frame = json.loads(text)
                    if frame["type"] == "ready" and closed_at is not None:
                        self.resumes.append(Resume(close_code, time.monotonic() - closed_at))
                        closed_at = None
                    self._take(frame)
            except websockets.ConnectionClosed:
                pass
            if self._stopping:
                return
            if closed_at is None:
                closed_at, close_code = time.monotonic(), socket.close_code
            self._changed.set()

    def _take(self, frame: Frame) -> None:
        if frame["type"] == "error":
            raise AssertionError(f"client of {self.chat_id} refused: {frame}")
        if frame["type"] == "event":
            self.seqs.append(frame["seq"])
            if frame["event"]["type"] == "message":
                self.messages.append(frame["event"]["content"])
                self.message_ids.append(frame["event"]["id"])
        elif frame["type"] == "upstream":
            self.statuses.append(frame["status"])
            if frame["status"] == "connected" and self.on_connected is not None:
                self.on_connected(self)
        self._changed.set()

    async def until(self, predicate: Callable[["ResumingClient"], bool]) -> None:
        """Returns once `predicate(self)` holds; fails if the client stopped first."""
        while not predicate(self):
            if self._task is not None and self._task.done():
                self._task.result()
                raise AssertionError(f"client of {self.chat_id} stopped")
            self._changed.clear()
            await self._changed.wait()

    async def close(self) -> None:
        self._stopping = True
        if self._socket is not None:
            await self._socket.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


def has_message(content: str) -> Callable[[ResumingClient], bool]:
    return lambda client: content in client.messages


def is_connected(client: ResumingClient) -> bool:
    return bool(client.statuses) and client.statuses[-1] == "connected"
