"""Django's ASGI handler, with each /api/ request's thread taken from threads kept for them.

Under ASGI, Django gives every request a thread of its own for its synchronous work (the
request's ThreadSensitiveContext): started on the request's first hop, which Django makes
before the view runs (the request_started signal's receivers), and joined by yet another
thread when the request ends. On a busy machine a new thread waits for the OS to schedule
it: that first hop took p90 1.4 ms and p99 4.6 ms, against 0.06 and 0.24 ms to a thread kept
from an earlier request (docs/performance.md), and every REST call paid it, a chat start
included. An API request's synchronous work (the request signals, a widget or archive read)
now runs on a kept thread, one request at a time per thread, as under a WSGI server. Other
requests (the admin's) keep Django's thread per request.

Tasks a request starts that outlive it (an upstream, the stream workers) are treated as
Django treats them: their synchronous calls no longer go to the request's thread.
"""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import SyncToAsync, ThreadSensitiveContext
from django.core.handlers.asgi import ASGIHandler

from chatbridge.api.middleware import API_PREFIX

# Idle threads kept between requests: a request that finds none starts one, and a thread
# given back beyond these ends once idle.
KEPT_THREADS = 8


class RequestThreads:
    """Single-thread executors, lent to one request at a time. Used from the event loop."""

    def __init__(self, kept: int) -> None:
        self._kept = kept
        self._idle: list[ThreadPoolExecutor] = []

    def take(self) -> ThreadPoolExecutor:
        if self._idle:
            return self._idle.pop()
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="api-request")

    def give_back(self, executor: ThreadPoolExecutor) -> None:
        if len(self._idle) < self._kept:
            self._idle.append(executor)
        else:
            executor.shutdown(wait=False)


class ApiThreadsHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self.threads = RequestThreads(KEPT_THREADS)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            return await super().__call__(scope, receive, send)
        executor = self.threads.take()
        context = ThreadSensitiveContext()
        try:
            async with context:
                # The request's thread, as Django would start it on the first hop; taken
                # back before the context ends, which would shut it down.
                SyncToAsync.context_to_thread_executor[context] = executor
                try:
                    await self.handle(scope, receive, send)
                finally:
                    SyncToAsync.context_to_thread_executor.pop(context, None)
        finally:
            self.threads.give_back(executor)


def get_asgi_application() -> ApiThreadsHandler:
    """django.core.asgi.get_asgi_application, with this handler."""
    import django

    django.setup(set_prefix=False)
    return ApiThreadsHandler()
