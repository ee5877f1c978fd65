"""Customers that chat through ChatBridge as the web widget does: the chat starts with
POST /api/v1/chats, then /ws/chat/ with an auth frame, then send frames."""

import asyncio
import contextlib
import json
import time
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from bench.customers import ConnectFailed, Customer
from bench.rest import RestApi
from bench.stats import PhaseStats

ORIGIN = "http://bench.chatbridge.localhost"


def _dumps(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"))


class BridgeCustomer(Customer):
    def __init__(self, index: int, stats: PhaseStats, ws_url: str, api: RestApi) -> None:
        super().__init__(index, stats)
        self.ws_url = ws_url
        self.api = api
        self.socket: ClientConnection | None = None
        self.reader: asyncio.Task | None = None

    async def connect(self) -> None:
        began = time.perf_counter()
        try:
            token = (await self.api.start_chat(f"Bench customer {self.index}"))["session_token"]
        except ConnectFailed:
            raise
        except Exception as error:
            raise ConnectFailed(f"start_chat_{type(error).__name__}") from None
        opened = time.perf_counter()
        self.stats.on_setup_step("start_chat", opened - began)
        try:
            # Browsers send no pings and daphne offers no compression: neither do we.
            self.socket = await websockets.connect(
                self.ws_url, origin=ORIGIN, ping_interval=None, compression=None, open_timeout=30
            )
        except Exception as error:
            raise ConnectFailed(f"ws_open_{type(error).__name__}") from None
        # As the widget does: the agent's answer as it comes, its seq when logged.
        await self.socket.send(
            _dumps({"type": "auth", "token": token, "early_events": True, "ref": "auth"})
        )
        ready = False
        async for raw in self.socket:
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "error":
                raise ConnectFailed(f"auth_{frame.get('code')}")
            if kind == "ready":
                ready = True
                self.stats.on_setup_step("ws_ready", time.perf_counter() - opened)
            elif kind == "upstream" and frame.get("status") == "connected" and ready:
                self.stats.on_setup_step("upstream_connected", time.perf_counter() - opened)
                break
            elif kind == "ended":
                raise ConnectFailed("chat_ended")
        else:
            raise ConnectFailed("ws_closed_during_auth")
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.socket is not None
        try:
            async for raw in self.socket:
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind in ("event", "early"):
                    self.received(frame["event"], time.time() * 1000)
                elif kind == "error":
                    self.failed(frame.get("ref"), f"error_{frame.get('code')}")
                elif kind == "ended":
                    self.lost_connection("chat_ended")
                    return
            self.lost_connection("ws_closed")
        except websockets.ConnectionClosed:
            self.lost_connection("ws_closed")

    async def send(self, message_id: str, content: str) -> None:
        assert self.socket is not None
        try:
            await self.socket.send(
                _dumps(
                    {"type": "send", "content": content, "client_id": message_id, "ref": message_id}
                )
            )
        except websockets.ConnectionClosed:
            self.failed(message_id, "send_ws_closed")

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
        if self.socket is not None:
            await self.socket.close()
