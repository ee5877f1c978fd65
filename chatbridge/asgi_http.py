"""Django's ASGI handler for HTTP, minus the reference cycles each finished request left.

Every request ended in cycles that only the cycle collector's rare full pass frees, while
they held what the request had used: about 27 KiB each, a chat start's included.

- Django serves a request in two tasks, the view and a listener for the client's
  `http.disconnect`, and re-raises the listener's RequestAborted in its handler's frame.
  daphne sends `http.disconnect` as soon as a response is complete, so most requests ended
  with that exception stored in the listener's task, its traceback holding the handler's
  frame, whose `tasks` hold the task: the request, the response and daphne's request object
  with them. Here the listener ends without an exception; Django ignores RequestAborted.
- The middleware ties the request to objects that point back at it: the lazy `user`, the
  messages storage, the CSP nonce. Here a request drops its attributes once it is answered
  and closed, when nothing reads it any more.

Django also gives every request a thread of its own for its synchronous code (at least
`response.close`, which sends `request_finished`), started for the request and joined by yet
another thread when it ends: two thread starts per request, a chat start's and a long-poll's
included, which took an eighth of the event loop's time while chats were starting. Here a
request borrows an idle thread instead (`RequestThread`), still one thread for all of its
synchronous code, as Django's database connections need.
"""

from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

import django
from asgiref.sync import ThreadSensitiveContext
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest

# Idle request threads kept for the next requests; past this, a returned thread ends. More
# requests than this running synchronous code at once start threads of their own, as before.
IDLE_REQUEST_THREADS = 32


class IdleThreads:
    """Single-thread executors that requests have given back, for the next ones to borrow.
    Used from the event loop's thread only."""

    def __init__(self, keep: int = IDLE_REQUEST_THREADS) -> None:
        self.keep = keep
        self._idle: list[ThreadPoolExecutor] = []

    def __len__(self) -> int:
        return len(self._idle)

    def take(self) -> ThreadPoolExecutor:
        if self._idle:
            return self._idle.pop()
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="chatbridge-request")

    def give_back(self, thread: ThreadPoolExecutor) -> None:
        if len(self._idle) < self.keep:
            self._idle.append(thread)
        else:
            thread.shutdown(wait=False)


class RequestThread(Executor):
    """The thread that runs one request's synchronous code, borrowed at its first call and
    given back when the request ends (`release`). A thread still busy then, with a call of a
    request that was cancelled, is not given back: it ends once that call returns."""

    def __init__(self, threads: IdleThreads) -> None:
        self._threads = threads
        self._thread: ThreadPoolExecutor | None = None
        self._last: Future | None = None

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future:
        if self._thread is None:
            self._thread = self._threads.take()
        # One worker runs the calls in order: the last one done means all are.
        self._last = self._thread.submit(fn, *args, **kwargs)
        return self._last

    def release(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if self._last is not None and not self._last.done():
            thread.shutdown(wait=False)
        else:
            self._threads.give_back(thread)


class CycleFreeASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        # The request being served for each ASGI scope, by the scope's id.
        self._serving: dict[int, HttpRequest] = {}
        self.threads = IdleThreads()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        thread = RequestThread(self.threads)
        try:
            async with ThreadSensitiveContext(executor=thread):
                await self.handle(scope, receive, send)
        finally:
            thread.release()

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            await super().handle(scope, receive, send)
        finally:
            request = self._serving.pop(id(scope), None)
            if request is not None:
                request.__dict__.clear()

    def create_request(self, scope: dict[str, Any], body_file: Any) -> tuple[Any, Any]:
        request, error_response = super().create_request(scope, body_file)
        if request is not None:
            self._serving[id(scope)] = request
        return request, error_response

    async def listen_for_disconnect(self, receive: Any) -> None:
        """Returns once the client has gone (Django's raises RequestAborted)."""
        try:
            await super().listen_for_disconnect(receive)
        except RequestAborted:
            return


def get_http_application() -> CycleFreeASGIHandler:
    """Sets Django up as get_asgi_application() does, and returns the handler above."""
    django.setup(set_prefix=False)
    return CycleFreeASGIHandler()
