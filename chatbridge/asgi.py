"""ASGI entry point: Django for HTTP, Channels for websockets.

Kept server-agnostic: daphne serves it by default, any ASGI server can.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatbridge.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import (  # noqa: E402
    AllowedHostsOriginValidator,
    OriginValidator,
)
from django.conf import settings  # noqa: E402
from django.urls import re_path  # noqa: E402

from chatbridge.process import prepare_for_serving  # noqa: E402
from chatbridge.routing import staff_websocket_urlpatterns, websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(
            [
                # Staff pages live on ChatBridge's own host: same origin, the admin's session.
                # (Zero-width patterns: the inner routers see the whole path.)
                re_path(
                    r"^(?=ws/staff/)",
                    AllowedHostsOriginValidator(
                        AuthMiddlewareStack(URLRouter(staff_websocket_urlpatterns))
                    ),
                ),
                re_path(
                    "",
                    OriginValidator(
                        URLRouter(websocket_urlpatterns), settings.CHATBRIDGE_ALLOWED_ORIGINS
                    ),
                ),
            ]
        ),
    }
)

prepare_for_serving()
