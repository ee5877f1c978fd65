"""Django's ASGI handler for HTTP, minus the reference cycle each finished request left.

Django serves a request in two tasks, the view and a listener for the client's
`http.disconnect`, and re-raises the listener's RequestAborted in its handler's frame once
either is done. daphne sends `http.disconnect` as soon as a response is complete, so most
requests end with that exception stored in the listener's task, its traceback holding the
handler's frame, whose `tasks` hold the task: a cycle that keeps the request, the response,
the session and daphne's request object (some 27 KiB) until the cycle collector's rare full
pass. Here the listener ends without an exception; Django ignores RequestAborted anyway.
"""

import django
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler


class CycleFreeASGIHandler(ASGIHandler):
    async def listen_for_disconnect(self, receive) -> None:
        """Returns once the client has gone (Django's raises RequestAborted)."""
        try:
            await super().listen_for_disconnect(receive)
        except RequestAborted:
            return


def get_http_application() -> CycleFreeASGIHandler:
    """Sets Django up as get_asgi_application() does, and returns the handler above."""
    django.setup(set_prefix=False)
    return CycleFreeASGIHandler()
