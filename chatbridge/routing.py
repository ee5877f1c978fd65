"""Websocket URL routes, kept apart from the HTTP URLconf as Channels suggests.

One router level, each route wrapped in its own origin check: every router and middleware
level stays alive (a coroutine and a copy of the scope) for as long as its websocket does.
"""

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from chatbridge.archive.live import StaffTranscriptConsumer
from chatbridge.ws.consumer import ChatConsumer
from chatbridge.ws.origins import ConfiguredOriginValidator

websocket_urlpatterns = [
    # Customers: from the configured origins only (the widget frame's own among them).
    path("ws/chat/", ConfiguredOriginValidator(ChatConsumer.as_asgi())),
    # Staff: authenticated by the admin's session, on ChatBridge's own host (same origin).
    path(
        "ws/staff/chats/<str:chat_id>/",
        AllowedHostsOriginValidator(AuthMiddlewareStack(StaffTranscriptConsumer.as_asgi())),
    ),
]
