"""Websocket URL routes, kept apart from the HTTP URLconf as Channels suggests."""

from django.urls import path

from chatbridge.consumers import ChatConsumer

websocket_urlpatterns = [
    path("ws/chat/", ChatConsumer.as_asgi()),
]
