"""A REST client's helpers: starting a chat, its bearer header, problem answers, event pages
and an SSE reader.

Every event they hand a test is first checked against the one event schema
(chatbridge.chats.schema), strictly, like the websocket's frames in tests/support/ws_client.py:
pages and transcripts, SSE data, webhook payloads. A key the schema does not list, a missing
key or a wrong type fails the test that read it.
"""

import asyncio
import json
from typing import Any

import httpx
import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from chatbridge.api.schemas import EventsPageOut, TranscriptPageOut
from chatbridge.asgi import application
from chatbridge.chats.schema import Event, TypingEvent
from chatbridge.redis import keys
from chatbridge.runtime import Runtime
from chatbridge.ws.protocol import EndedFrame, UpstreamFrame
from tests.support.redis_waits import until_members

ORIGIN = "https://shop.example.com"
BASE = "http://testserver/api/v1"


async def start_chat(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    body.setdefault("widget_id", "shop")
    body.setdefault("display_name", "Ada")
    response = await api.post("/chats", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def get_scope(
    path: str,
    *,
    query: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    client: tuple[str, int] = ("203.0.113.7", 40000),
    server: tuple[str, int] = ("testserver", 80),
) -> dict[str, Any]:
    """The ASGI scope of a plain-HTTP GET of `path`, for tests that drive the application
    message by message."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": [(b"host", b"testserver"), *(headers or [])],
        "client": client,
        "server": server,
        "root_path": "",
    }


def bearer(chat: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {chat['session_token']}"}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert {"type", "title", "status", "detail", "code"} <= body.keys()
    assert body["status"] == status and body["code"] == code, body
    return body


class _LoggedEvent(BaseModel):
    """The API's LoggedEventOut, strictly: the API's own envelope lets unknown keys by."""

    model_config = ConfigDict(extra="forbid", strict=True)

    seq: int = Field(ge=1)
    event: Event


_logged_events = TypeAdapter(list[_LoggedEvent])
_logged_event = TypeAdapter(_LoggedEvent)
_event = TypeAdapter(Event)


def _check(adapter: TypeAdapter[Any], data: Any, what: str) -> None:
    try:
        adapter.validate_python(data, strict=True)
    except ValidationError as error:
        raise AssertionError(f"{what} off the schema: {data}\n{error}") from None


def assert_logged_event(logged: Any) -> None:
    """Fails unless `logged` (decoded JSON) is {seq, event} with an event of the schema, as in
    pages and webhook payloads."""
    _check(_logged_event, logged, "a logged event")


def events_page(response: httpx.Response) -> dict[str, Any]:
    """The JSON of a 200 answer of GET …/events, its envelope and every event checked."""
    return _page(response, EventsPageOut)


def transcript_page(response: httpx.Response) -> dict[str, Any]:
    """The JSON of a 200 answer of GET …/transcript, its envelope and every event checked."""
    return _page(response, TranscriptPageOut)


def _page(response: httpx.Response, model: type[BaseModel]) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    page = response.json()
    assert set(page) == set(model.model_fields), f"{model.__name__} keys: {sorted(page)}"
    _check(_logged_events, page["events"], "a page's events")
    return page


async def contact_id(runtime: Runtime, chat: dict[str, Any]) -> str:
    """The chat's Connect contact, for the emulator's agent to act on."""
    return (await runtime.service.store.load(chat["chat_id"])).contact_id


async def events_after(
    api: httpx.AsyncClient, chat: dict[str, Any], after: int = 0, **params: Any
) -> dict[str, Any]:
    """A page of the chat's events after `after` (params: limit, wait), checked."""
    response = await api.get(
        f"/chats/{chat['chat_id']}/events", params={"after": after, **params}, headers=bearer(chat)
    )
    return events_page(response)


async def polling(
    api: httpx.AsyncClient,
    chat: dict[str, Any],
    redis: aioredis.Redis,
    after: int,
    **params: Any,
) -> asyncio.Task:
    """A long-poll after `after` (params: limit), once it waits at its doorbell: once this
    process's relay follows the chat for it, it takes its place among the chat's live
    connections in the round trip that reads the log."""
    conns = keys().chat_connections(chat["chat_id"])
    members = await redis.zcard(conns)
    poll = asyncio.create_task(events_after(api, chat, after, wait=30, **params))
    await until_members(redis, conns, members + 1)
    return poll


async def wait_for_agent_message(
    api: httpx.AsyncClient, chat: dict[str, Any], content: str, after: int = 0
) -> list[dict[str, Any]]:
    """Long-polls until the agent's message is logged; the events seen on the way."""
    seen: list[dict[str, Any]] = []
    while True:
        page = await events_after(api, chat, after, wait=10)
        assert page["events"], "the long-poll timed out"
        seen += page["events"]
        after = page["events"][-1]["seq"]
        if any(e["event"]["content"] == content for e in page["events"]):
            return seen


# What each SSE event's data must be: the schema's event, or a websocket frame's body.
_SSE_DATA: dict[str, TypeAdapter[Any]] = {
    "chat": _event,
    "typing": TypeAdapter(TypingEvent),
    "upstream": TypeAdapter(UpstreamFrame),
    "ended": TypeAdapter(EndedFrame),
}


def assert_sse_event(fields: dict[str, Any]) -> None:
    """Fails unless an SSE event is one ChatBridge documents, with data of the schema: `chat`
    (an event, its seq as the SSE id), `typing` (a typing event), `upstream` and `ended` (the
    websocket's frames of those names, without their type)."""
    name = fields.get("event")
    assert name in _SSE_DATA, f"an SSE event ChatBridge does not send: {fields}"
    assert ("id" in fields) == (name == "chat"), f"only chat events carry an id: {fields}"
    if name == "chat":
        assert fields["id"].isdigit() and int(fields["id"]) >= 1, fields
    data = fields["data"]
    if name in {"upstream", "ended"}:
        assert isinstance(data, dict) and "type" not in data, fields
        data = {"type": name, **data}
    _check(_SSE_DATA[name], data, f"SSE {name} data")


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
        scope = get_scope(self.path, query=self.query, headers=self.headers)
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
                assert_sse_event(fields)
                return fields
