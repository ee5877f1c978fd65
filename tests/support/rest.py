"""A REST client's helpers: starting a chat, its bearer header, problem answers, an SSE reader."""

import asyncio
import json
from typing import Any

import httpx

from chatbridge.asgi import application

ORIGIN = "https://shop.example.com"
BASE = "http://testserver/api/v1"


async def start_chat(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    body.setdefault("widget_id", "shop")
    body.setdefault("display_name", "Ada")
    response = await api.post("/chats", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def bearer(chat: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {chat['session_token']}"}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert {"type", "title", "status", "detail", "code"} <= body.keys()
    assert body["status"] == status and body["code"] == code, body
    return body


class SseStream:
    """A streaming GET against the ASGI app, chunk by chunk (httpx's ASGI transport buffers)."""

    def __init__(self, path: str, headers: dict[str, str]) -> None:
        self.path, _, query = path.partition("?")
        self.query = query.encode()
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        self.chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.started = asyncio.get_running_loop().create_future()
        self.disconnect = asyncio.Event()
        self.buffer = ""

    async def __aenter__(self) -> "SseStream":
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": self.path,
            "raw_path": self.path.encode(),
            "query_string": self.query,
            "headers": [(b"host", b"testserver"), *self.headers],
            "client": ("203.0.113.7", 40000),
            "server": ("testserver", 80),
            "root_path": "",
        }
        sent_request = False

        async def receive() -> dict[str, Any]:
            nonlocal sent_request
            if not sent_request:
                sent_request = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await self.disconnect.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.started.set_result(message)
            elif message["type"] == "http.response.body":
                if message.get("body"):
                    await self.chunks.put(message["body"])
                if not message.get("more_body", False):
                    await self.chunks.put(None)

        self.task = asyncio.create_task(application(scope, receive, send))
        start = await asyncio.wait_for(self.started, 10)
        self.status = start["status"]
        self.response_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.disconnect.set()
        await asyncio.wait_for(self.task, 10)

    async def next_block(self, timeout: float = 10) -> str | None:
        """The next SSE block (up to a blank line), or None when the stream ended."""
        while "\n\n" not in self.buffer:
            chunk = await asyncio.wait_for(self.chunks.get(), timeout)
            if chunk is None:
                return None
            self.buffer += chunk.decode()
        block, self.buffer = self.buffer.split("\n\n", 1)
        return block

    async def next_event(self, timeout: float = 10) -> dict[str, Any] | None:
        """The next SSE event as {id, event, data}, skipping comments and retry lines."""
        while True:
            block = await self.next_block(timeout)
            if block is None:
                return None
            fields: dict[str, Any] = {}
            for line in block.split("\n"):
                if line.startswith(":") or line.startswith("retry:"):
                    continue
                name, _, value = line.partition(": ")
                fields[name] = value
            if fields:
                if "data" in fields:
                    fields["data"] = json.loads(fields["data"])
                return fields
