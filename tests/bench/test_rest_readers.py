"""The bench's REST apps: how they split between long-polls and SSE, how an SSE app reads
the event stream, and how it resumes one that breaks."""

import json
from typing import Any

import httpx

from bench.rest import EventStream, RestApi, RestCustomer, SseCustomer, SseFrame, rest_app
from bench.stats import PhaseStats


def test_with_both_readers_the_apps_of_each_process_alternate():
    stats = PhaseStats("rest", 4)
    api = RestApi("http://127.0.0.1:9")
    # A process with the indexes 1, 3, 5, 7 of a phase over two processes.
    apps = [rest_app(i, position, stats, api, "both") for position, i in enumerate([1, 3, 5, 7])]
    only_sse = [rest_app(i, position, stats, api, "sse") for position, i in enumerate([0, 2])]

    assert [type(app) for app in apps] == [RestCustomer, SseCustomer, RestCustomer, SseCustomer]
    assert [app.variant for app in apps] == ["poll", "sse", "poll", "sse"]
    assert {app.variant for app in only_sse} == {"sse"}


def test_an_event_stream_is_read_as_eventsource_reads_it():
    stream = EventStream()
    lines = [
        "retry: 250", "", ": keep-alive", "",
        "id: 7", "event: chat", 'data: {"a":', "data: 1}", "",
        "event: upstream", "data:connected", "",
    ]  # fmt: skip

    frames = [frame for line in lines if (frame := stream.feed(line)) is not None]

    assert frames == [SseFrame("chat", '{"a":\n1}'), SseFrame("upstream", "connected")]
    assert stream.last_event_id == "7"
    assert stream.retry_ms == 250


class StreamThatBreaks:
    """A server whose first event stream ends after an event and the `upstream` frame, as a
    dropped connection would, and whose next one ends the chat; it keeps the Last-Event-ID
    of each stream request."""

    def __init__(self) -> None:
        self.resumed_from: list[bytes | None] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope["path"]
        status, body, kind = 202, b"{}", b"application/json"
        if path == "/api/v1/chats":
            status, body = 201, json.dumps({"chat_id": "c1", "session_token": "t"}).encode()
        elif path.endswith("/events/stream"):
            self.resumed_from.append(dict(scope["headers"]).get(b"last-event-id"))
            status, kind = 200, b"text/event-stream"
            if len(self.resumed_from) == 1:
                body = (
                    b"retry: 0\n\nid: 7\nevent: chat\ndata: {}\n\n"
                    b'event: upstream\ndata: {"status": "connected"}\n\n'
                )
            else:
                body = b'event: ended\ndata: {"reason": "agent"}\n\n'
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", kind)]}
        )
        await send({"type": "http.response.body", "body": body})


async def test_an_sse_app_resumes_a_broken_stream_after_the_last_event_it_got():
    server = StreamThatBreaks()
    stats = PhaseStats("rest", 1)
    api = RestApi("http://bench.test")
    await api.client.aclose()
    api.client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server), base_url="http://bench.test"
    )
    app = SseCustomer(0, stats, api)
    try:
        await app.connect()
        assert app.reader is not None
        await app.reader
    finally:
        await app.close()
        await api.aclose()

    assert server.resumed_from == [None, b"7"]
    assert dict(stats.errors) == {"sse_closed": 1}
    assert stats.setup_ms["open_stream"]
