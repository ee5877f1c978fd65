"""A client that speaks /ws/chat/ over TCP to one of ChatBridge's processes, as the
multi-process tests start them (chatbridge.dev.processes)."""

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from chatbridge.dev.processes import ORIGIN, AsgiProcess

Frame = dict[str, Any]


@dataclass
class SocketClient:
    """A chat client on one process's /ws/chat/, over a real websocket."""

    socket: ClientConnection
    frames: list[Frame] = field(default_factory=list)
    close_code: int | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _reader: asyncio.Task | None = None

    @classmethod
    async def open(cls, process: AsgiProcess, token: str, *, after: int = 0) -> "SocketClient":
        """Connected and authenticated: its first frames are `ready`, then the chat's events
        after `after`, then the upstream status."""
        socket = await websockets.connect(process.ws_url, origin=ORIGIN, open_timeout=30)
        client = cls(socket)
        client._reader = asyncio.create_task(client._read())
        await socket.send(json.dumps({"type": "auth", "token": token, "after": after}))
        ready = await client.first(lambda f: f["type"] in {"ready", "error"})
        assert ready["type"] == "ready", ready
        return client

    async def _read(self) -> None:
        try:
            async for text in self.socket:
                self.frames.append(json.loads(text))
                self._arrived.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self.socket.close_code
            self._arrived.set()

    async def first(self, predicate: Callable[[Frame], bool], *, start: int = 0) -> Frame:
        """The first frame from index `start` on that matches, waiting for it if need be."""
        seen = start
        while True:
            for frame in self.frames[seen:]:
                if predicate(frame):
                    return frame
            seen = len(self.frames)
            if self._reader is not None and self._reader.done():
                raise AssertionError(f"closed ({self.close_code}) first: {self.frames}")
            self._arrived.clear()
            await self._arrived.wait()

    async def closed(self) -> int | None:
        """The close code, once the server has closed the socket."""
        assert self._reader is not None
        await self._reader
        return self.close_code

    def upstream_statuses(self) -> list[str]:
        return [frame["status"] for frame in self.frames if frame["type"] == "upstream"]

    def last_seq(self) -> int:
        return max((frame["seq"] for frame in self.frames if frame["type"] == "event"), default=0)

    def messages(self) -> list[str]:
        return [
            frame["event"]["content"]
            for frame in self.frames
            if frame["type"] == "event" and frame["event"]["type"] == "message"
        ]

    async def close(self) -> None:
        await self.socket.close()
        if self._reader is not None:
            await self._reader


def is_status(status: str) -> Callable[[Frame], bool]:
    return lambda frame: frame["type"] == "upstream" and frame["status"] == status


def is_message(content: str) -> Callable[[Frame], bool]:
    return lambda frame: (
        frame["type"] == "event"
        and frame["event"]["type"] == "message"
        and frame["event"]["content"] == content
    )
