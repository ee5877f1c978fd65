"""Reads a Connect participant websocket the way a chat client does, for assertions."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import websockets

Item = dict[str, Any]


class ParticipantSocket:
    def __init__(self, socket: websockets.ClientConnection) -> None:
        self._socket = socket

    async def wait_for_item(
        self, predicate: Callable[[Item], bool], *, timeout: float = 10.0
    ) -> Item:
        """The next aws/chat item that matches, skipping the others."""
        async with asyncio.timeout(timeout):
            async for raw in self._socket:
                frame = json.loads(raw)
                if frame.get("topic") != "aws/chat":
                    continue
                item = json.loads(frame["content"])
                if predicate(item):
                    return item
        raise AssertionError("the websocket closed before the item arrived")


@contextlib.asynccontextmanager
async def subscribed(url: str) -> AsyncIterator[ParticipantSocket]:
    """Connects and subscribes to aws/chat; items sent after entry are all seen."""
    async with websockets.connect(url) as socket:
        await socket.send(
            json.dumps({"topic": "aws/subscribe", "content": {"topics": ["aws/chat"]}})
        )
        async with asyncio.timeout(10):
            while json.loads(await socket.recv()).get("topic") != "aws/subscribe":
                pass
        yield ParticipantSocket(socket)
