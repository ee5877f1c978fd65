"""ASGI entry point: Django for HTTP, Channels for websockets.

Kept server-agnostic: daphne serves it by default, any ASGI server can.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatbridge.settings")

from chatbridge.asgi_http import get_http_application  # noqa: E402

django_asgi_app = get_http_application()

from django.core import signals  # noqa: E402
from django.db import close_old_connections, reset_queries  # noqa: E402


def start_views_on_the_loop() -> None:
    """Spares every request a thread hop before its view.

    Django's ASGI handler runs each request's database work on a thread of the request's
    own, started for it: when a request starts, that thread holds no connection to close and
    no queries to forget. These two receivers of request_started are the ones that would run
    on it, through a hop (starting the thread) before every view, a long-poll's included.
    Those of request_finished, after the response has gone, stay."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_started.disconnect(reset_queries)


start_views_on_the_loop()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chatbridge.routing import websocket_urlpatterns  # noqa: E402
from chatbridge.runtime import prepare_for_serving  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)

prepare_for_serving()
