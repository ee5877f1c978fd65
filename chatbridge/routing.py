"""Websocket URL routes, kept apart from the HTTP URLconf as Channels suggests."""

from django.urls import path  # noqa: F401

websocket_urlpatterns: list = []
