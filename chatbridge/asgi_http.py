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
"""

from typing import Any

import django
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest


class CycleFreeASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        # The request being served for each ASGI scope, by the scope's id.
        self._serving: dict[int, HttpRequest] = {}

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
