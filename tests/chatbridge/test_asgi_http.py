"""Django's HTTP handler as ChatBridge serves it (chatbridge.asgi_http), driven the way daphne
drives it: the request, then `http.disconnect` as soon as the response is complete."""

import asyncio
import gc
from typing import Any

import pytest

from chatbridge.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


async def serve_once(path: str) -> list[dict[str, Any]]:
    """One GET of `path`; the messages the application sent."""
    answered = asyncio.Event()
    request = [{"type": "http.request", "body": b"", "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if request:
            return request.pop()
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            answered.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }
    await application(scope, receive, send)
    return sent


async def test_a_requests_response_and_handler_are_freed_without_the_cycle_collector(settings):
    """Django's middleware leaves small cycles of its own (the request's lazy user, its
    messages); what must not wait for the collector is what the handler's frames hold."""
    settings.ALLOWED_HOSTS = ["testserver"]
    gc.collect()
    gc.disable()
    try:
        sent = await serve_once("/healthz")
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        left = {type(o).__name__ for o in gc.garbage} & {"HttpResponse", "frame", "Task"}
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()

    assert sent[0]["status"] == 200
    assert left == set()
