"""ASGI entry point: Django for HTTP, Channels for websockets.

Kept server-agnostic: daphne serves it by default, any ASGI server can.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatbridge.settings")

from chatbridge.asgi_http import get_http_application  # noqa: E402

django_asgi_app = get_http_application()

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
