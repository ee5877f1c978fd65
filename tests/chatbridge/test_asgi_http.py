"""Django's HTTP handler as ChatBridge serves it (chatbridge.asgi_http), driven the way daphne
drives it: the request, then `http.disconnect` as soon as the response is complete; and the
threads its requests borrow for their synchronous code."""

import asyncio
import gc
import threading
from typing import Any

import pytest
from django.core import signals

from chatbridge.asgi import application
from chatbridge.asgi_http import IdleThreads, RequestThread
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


async def test_consecutive_requests_close_on_one_borrowed_thread_not_a_new_one_each(settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    closed_on: list[threading.Thread] = []

    def note_thread(**kwargs: Any) -> None:
        closed_on.append(threading.current_thread())

    signals.request_finished.connect(note_thread)
    try:
        for _ in range(3):
            sent = await serve_once("/healthz")
            assert sent[0]["status"] == 200
    finally:
        signals.request_finished.disconnect(note_thread)

    assert len(closed_on) == 3
    assert closed_on[0] is not threading.main_thread()
    assert closed_on[1] is closed_on[0] and closed_on[2] is closed_on[0]


def test_a_thread_still_running_a_cancelled_requests_call_is_not_lent_again():
    threads = IdleThreads()
    request = RequestThread(threads)
    go_on = threading.Event()
    call = request.submit(go_on.wait)

    request.release()

    assert len(threads) == 0
    go_on.set()
    call.result(timeout=10)


def test_a_thread_whose_calls_are_done_is_lent_to_the_next_request():
    threads = IdleThreads()
    request = RequestThread(threads)
    borrowed = request.submit(threading.get_ident).result(timeout=10)

    request.release()
    again = RequestThread(threads).submit(threading.get_ident).result(timeout=10)

    assert again == borrowed
