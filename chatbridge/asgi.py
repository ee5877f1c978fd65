"""ASGI entry point: Django for HTTP, Channels for websockets.

Kept server-agnostic: daphne serves it by default, any ASGI server can.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatbridge.settings")
django_asgi_app = get_asgi_application()

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
