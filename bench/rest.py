"""Customers that use ChatBridge's REST API, as a mobile app does: start the chat, send with
POST .../messages, and read either with long-polls on GET .../events?wait= or with one
Server-Sent Events stream on GET .../events/stream.

Besides send → echo (also kept apart per kind of reader), this path measures two things of
its own: how long a send request takes, and the reader's wake-up, from the agent's message
being created in Connect (its AbsoluteTime, on this machine's clock) to the long-poll
answering with it or its SSE frame arriving.
"""

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from bench.customers import ConnectFailed, Customer
from bench.stats import PhaseStats

WIDGET_ID = "default"
LONG_POLL_WAIT = 25
# What an EventSource waits before resuming until the server says otherwise (`retry:`).
SSE_RETRY_MS = 3000
READERS = ("poll", "sse")


class RestApi:
    """One HTTP client for a whole population (a pool of keep-alive connections)."""

    def __init__(self, base_url: str, start_urls: Sequence[str] = ()) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url,
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=None),
            timeout=httpx.Timeout(LONG_POLL_WAIT + 30, connect=30),
        )
        # Starts go round the processes that serve them (the base URL's when none is given).
        self._start_urls = itertools.cycle(
            [f"{url}/api/v1/chats" for url in start_urls] or ["/api/v1/chats"]
        )

    async def start_chat(self, display_name: str) -> dict[str, Any]:
        response = await self.client.post(
            next(self._start_urls), json={"widget_id": WIDGET_ID, "display_name": display_name}
        )
        if response.status_code != 201:
            raise ConnectFailed(f"start_http_{response.status_code}")
        return response.json()

    async def aclose(self) -> None:
        await self.client.aclose()


class RestCustomer(Customer):
    """A mobile app that reads with long-polls, a new one as soon as one answers."""

    variant = "poll"

    def __init__(self, index: int, stats: PhaseStats, api: RestApi) -> None:
        super().__init__(index, stats)
        self.api = api
        self.chat_id = ""
        self.headers: dict[str, str] = {}
        self.reader: asyncio.Task | None = None

    async def connect(self) -> None:
        began = time.perf_counter()
        try:
            chat = await self.api.start_chat(f"Bench app user {self.index}")
        except httpx.HTTPError as error:
            raise ConnectFailed(f"start_{type(error).__name__}") from None
        self.stats.on_setup_step("start_chat", time.perf_counter() - began)
        self.chat_id = chat["chat_id"]
        self.headers = {"Authorization": f"Bearer {chat['session_token']}"}
        self.reader = asyncio.create_task(self._read())
        await self._reading()

    async def _reading(self) -> None:
        """Returns once the reader reads; a long-poll's first request needs no wait."""

    def failed(self, message_id: str | None, kind: str) -> None:
        """Errors are named after the reader, so that each kind's are told apart."""
        prefix = f"{self.variant}_"
        super().failed(message_id, kind if kind.startswith(prefix) else prefix + kind)

    async def _read(self) -> None:
        after = 0
        path = f"/api/v1/chats/{self.chat_id}/events"
        while True:
            try:
                response = await self.api.client.get(
                    path,
                    params={"after": after, "wait": LONG_POLL_WAIT},
                    headers=self.headers,
                )
            except httpx.HTTPError as error:
                self.lost_connection(f"poll_{type(error).__name__}")
                return
            if response.status_code != 200:
                self.lost_connection(f"poll_http_{response.status_code}")
                return
            page = response.json()
            answered = time.time() * 1000
            for item in page["events"]:
                after = max(after, item["seq"])
                self.received(item["event"], answered)
            if page.get("status") == "ended":
                self.lost_connection("poll_chat_ended")
                return

    async def send(self, message_id: str, content: str) -> None:
        began = time.perf_counter()
        try:
            response = await self.api.client.post(
                f"/api/v1/chats/{self.chat_id}/messages",
                json={"content": content},
                headers={**self.headers, "Idempotency-Key": message_id},
            )
        except httpx.HTTPError as error:
            self.failed(message_id, f"send_{type(error).__name__}")
            return
        self.stats.sample("send_request_ms", (time.perf_counter() - began) * 1000, began)
        if response.status_code != 201:
            self.failed(message_id, f"send_http_{response.status_code}")

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
        if self.chat_id:
            with contextlib.suppress(httpx.HTTPError):
                await self.api.client.post(
                    f"/api/v1/chats/{self.chat_id}/end", headers=self.headers
                )


@dataclass(frozen=True, slots=True)
class SseFrame:
    event: str
    data: str


class EventStream:
    """The text/event-stream format, line by line, as EventSource reads it: fields gathered
    until a blank line, comments skipped, the last id and the retry delay remembered."""

    def __init__(self) -> None:
        self.last_event_id: str | None = None
        self.retry_ms = SSE_RETRY_MS
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None

    async def frames(self, lines: AsyncIterator[str]) -> AsyncIterator[SseFrame]:
        async for line in lines:
            frame = self.feed(line)
            if frame is not None:
                yield frame

    def feed(self, line: str) -> SseFrame | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> SseFrame | None:
        if self._id is not None:
            self.last_event_id = self._id
        data, event = self._data, self._event or "message"
        self._data, self._event, self._id = [], "", None
        return SseFrame(event, "\n".join(data)) if data else None


class SseCustomer(RestCustomer):
    """A mobile app that reads with one SSE stream. When the stream breaks it resumes with
    Last-Event-ID after the server's `retry:` delay, as EventSource would, and each break
    counts as an error. Its start includes opening the stream, up to the `upstream` frame
    that follows the catch-up (setup step open_stream)."""

    variant = "sse"

    def __init__(self, index: int, stats: PhaseStats, api: RestApi) -> None:
        super().__init__(index, stats, api)
        self._opened: asyncio.Future[None] | None = None

    async def connect(self) -> None:
        self._opened = asyncio.get_running_loop().create_future()
        await super().connect()

    async def _reading(self) -> None:
        assert self._opened is not None
        began = time.perf_counter()
        await self._opened
        self.stats.on_setup_step("open_stream", time.perf_counter() - began)

    def _lost(self, kind: str) -> None:
        """The stream is gone for good: a failed start if it never opened."""
        if self._opened is not None and not self._opened.done():
            self._opened.set_exception(ConnectFailed(kind))
        else:
            self.lost_connection(kind)

    async def _read(self) -> None:
        path = f"/api/v1/chats/{self.chat_id}/events/stream"
        stream = EventStream()
        while True:
            headers = dict(self.headers)
            if stream.last_event_id is not None:
                headers["Last-Event-ID"] = stream.last_event_id
            try:
                async with self.api.client.stream("GET", path, headers=headers) as response:
                    if response.status_code != 200:
                        self._lost(f"sse_http_{response.status_code}")
                        return
                    async for frame in stream.frames(response.aiter_lines()):
                        if frame.event == "chat":
                            self.received(json.loads(frame.data), time.time() * 1000)
                        elif frame.event == "upstream":
                            if self._opened is not None and not self._opened.done():
                                self._opened.set_result(None)
                        elif frame.event == "ended":
                            self._lost("sse_chat_ended")
                            return
                broke = "sse_closed"
            except httpx.HTTPError as error:
                broke = f"sse_{type(error).__name__}"
            if self._opened is None or not self._opened.done():
                self._lost(broke)
                return
            self.stats.on_error(broke)
            await asyncio.sleep(stream.retry_ms / 1000)


def rest_app(
    index: int, position: int, stats: PhaseStats, api: RestApi, readers: str
) -> RestCustomer:
    """The app `index`, the `position`-th of its process: with readers "both" the apps of
    each process alternate, so that every process carries as many of either kind."""
    kind = READERS[position % 2] if readers == "both" else readers
    return SseCustomer(index, stats, api) if kind == "sse" else RestCustomer(index, stats, api)
