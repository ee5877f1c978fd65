"""Websocket URL routes, kept apart from the HTTP URLconf as Channels suggests."""

from django.urls import path

from chatbridge.archive.consumers import StaffTranscriptConsumer
from chatbridge.consumers import ChatConsumer

websocket_urlpatterns = [
    path("ws/chat/", ChatConsumer.as_asgi()),
]

# Staff websockets: authenticated by the admin's session, same-origin only (chatbridge.asgi).
staff_websocket_urlpatterns = [
    path("ws/staff/chats/<str:chat_id>/", StaffTranscriptConsumer.as_asgi()),
]
