"""Reads a Connect participant websocket the way a chat client does, for assertions."""

import asyncio
import json
from collections.abc import Callable
from typing import Any

import websockets

Item = dict[str, Any]


async def wait_for_item(
    url: str, predicate: Callable[[Item], bool], *, timeout: float = 10.0
) -> Item:
    """Subscribes to aws/chat and returns the first item that matches."""
    async with websockets.connect(url) as socket:
        await socket.send(
            json.dumps({"topic": "aws/subscribe", "content": {"topics": ["aws/chat"]}})
        )
        async with asyncio.timeout(timeout):
            async for raw in socket:
                frame = json.loads(raw)
                if frame.get("topic") != "aws/chat":
                    continue
                item = json.loads(frame["content"])
                if predicate(item):
                    return item
    raise AssertionError("the websocket closed before the item arrived")
