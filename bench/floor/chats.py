"""The three paths' chats: each sends a message and learns when the echo agent's answer
arrives, on its own path."""

import asyncio
import contextlib
import json
import time
from abc import ABC, abstractmethod
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from bench.bridge import ORIGIN
from bench.customers import content_for, message_id_of_echo
from bench.direct import SUBSCRIBE, DirectConnect, agent_message
from bench.rest import RestApi
from bench.stack import Stack

ECHO_TIMEOUT = 10.0
DISPLAY_NAME = "Floor customer"


class Chat(ABC):
    """One chat of a path: sends a message, and resolves its future when the echo arrives."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.pending: dict[str, asyncio.Future[float]] = {}
        self.count = 0
        self.tasks: list[asyncio.Task] = []

    @abstractmethod
    async def send(self, content: str) -> None: ...

    async def exchange(self) -> float:
        """One message and its echo: ms from the send to the echo's arrival."""
        self.count += 1
        message_id = f"{self.name}-{self.count}"
        echoed = asyncio.get_running_loop().create_future()
        self.pending[message_id] = echoed
        sent = time.perf_counter()
        try:
            await self.send(content_for(message_id))
            async with asyncio.timeout(ECHO_TIMEOUT):
                arrived = await echoed
        finally:
            self.pending.pop(message_id, None)
        return (arrived - sent) * 1000

    def echo(self, content: object) -> None:
        message_id = message_id_of_echo(content)
        future = self.pending.get(message_id) if message_id else None
        if future is not None and not future.done():
            future.set_result(time.perf_counter())

    def read(self, socket: ClientConnection) -> None:
        self.tasks.append(asyncio.create_task(self._read(socket)))

    async def _read(self, socket: ClientConnection) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in socket:
                self.on_frame(raw)

    def on_frame(self, raw: str | bytes) -> None:
        """A frame in Connect's own shape (the direct path, the floor)."""
        if raw != "ready":
            self.echo(agent_message(raw))

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


class SocketChat(Chat):
    """A chat whose answers come on `socket`, and whose sends go there as `frame` makes them."""

    def __init__(self, name: str, socket: ClientConnection, frame: Any = None) -> None:
        super().__init__(name)
        self.socket = socket
        self.frame = frame
        self.read(socket)

    async def send(self, content: str) -> None:
        await self.socket.send(json.dumps(self.frame(content)))

    async def close(self) -> None:
        await super().close()
        await self.socket.close()


class DirectChat(SocketChat):
    """Sends as the bench's direct customers do: one HTTP request to the emulator."""

    def __init__(
        self, name: str, socket: ClientConnection, shared: DirectConnect, token: str
    ) -> None:
        super().__init__(name, socket)
        self.shared = shared
        self.token = token

    async def send(self, content: str) -> None:
        (await self.shared.send_message(self.token, content)).raise_for_status()


class BridgeChat(SocketChat):
    def on_frame(self, raw: str | bytes) -> None:
        frame = json.loads(raw)
        event = frame.get("event") if frame.get("type") in ("event", "early") else None
        if event and event.get("type") == "message" and event.get("participant_role") == "AGENT":
            self.echo(event.get("content"))


async def open_direct(name: str, shared: DirectConnect) -> Chat:
    connection = await shared.start_chat(DISPLAY_NAME)
    socket = await websockets.connect(
        connection["Websocket"]["Url"], compression=None, ping_interval=None
    )
    await socket.send(SUBSCRIBE)
    await socket.recv()
    return DirectChat(name, socket, shared, connection["ConnectionCredentials"]["ConnectionToken"])


async def start_on_relay(relay: httpx.AsyncClient, shared: DirectConnect) -> dict[str, str]:
    """A chat started by the bare relay: its Connect websocket and connection token."""
    response = await relay.post(
        "/start",
        json={
            "instance_id": shared.instance_id,
            "contact_flow_id": shared.contact_flow_id,
            "display_name": DISPLAY_NAME,
        },
    )
    response.raise_for_status()
    return response.json()


async def open_floor(name: str, shared: DirectConnect, relay: httpx.AsyncClient) -> Chat:
    started = await start_on_relay(relay, shared)
    socket = await websockets.connect(
        f"ws://{relay.base_url.host}:{relay.base_url.port}/", compression=None, ping_interval=None
    )
    await socket.send(json.dumps(started))
    if await socket.recv() != "ready":
        raise RuntimeError("the bare relay did not subscribe")
    return SocketChat(name, socket, lambda content: {"content": content})


async def open_bridge(name: str, stack: Stack, api: RestApi) -> Chat:
    token = (await api.start_chat(DISPLAY_NAME))["session_token"]
    socket = await websockets.connect(
        stack.ws_url, origin=ORIGIN, compression=None, ping_interval=None
    )
    # As the widget does: events as they come, their seqs when logged.
    await socket.send(
        json.dumps({"type": "auth", "token": token, "early_events": True, "ref": "auth"})
    )
    async for raw in socket:
        frame = json.loads(raw)
        if frame.get("type") == "error":
            raise RuntimeError(f"ChatBridge refused the chat: {frame.get('code')}")
        if frame.get("type") == "upstream" and frame.get("status") == "connected":
            break
    counter = iter(range(1, 1 << 62))

    def frame(content: str) -> dict[str, Any]:
        ref = f"{name}-{next(counter)}"
        return {"type": "send", "content": content, "client_id": ref, "ref": ref}

    return BridgeChat(name, socket, frame)
