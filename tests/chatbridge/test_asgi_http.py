"""Django's HTTP handler as ChatBridge serves it (chatbridge.asgi_http), driven the way daphne
drives it: the request, then `http.disconnect` as soon as the response is complete."""

import asyncio
import gc
from typing import Any

import pytest

from chatbridge.asgi import application
from tests.support.rest import get_scope

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

    scope = get_scope(path, client=("127.0.0.1", 40000), server=("127.0.0.1", 8000))
    await application(scope, receive, send)
    return sent


async def garbage_of(path: str) -> tuple[list[dict[str, Any]], set[str]]:
    """Serves one GET of `path` with the cycle collector off; what the application sent, and
    the types of what the request left for the collector."""
    gc.collect()
    gc.disable()
    try:
        sent = await serve_once(path)
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        return sent, {type(o).__name__ for o in gc.garbage}
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


async def test_a_requests_handler_tasks_and_frames_are_freed_without_the_cycle_collector(
    settings,
):
    settings.ALLOWED_HOSTS = ["testserver"]
    sent, left = await garbage_of("/healthz")

    assert sent[0]["status"] == 200
    assert left & {"frame", "Task", "RequestAborted"} == set()


async def test_a_request_is_freed_without_the_cycle_collector_once_answered(settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    sent, left = await garbage_of("/healthz")

    assert sent[0]["status"] == 200
    assert left & {"ASGIRequest", "SimpleLazyObject", "FallbackStorage"} == set()
