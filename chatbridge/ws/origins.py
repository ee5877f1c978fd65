"""The `/ws/chat/` handshake's origin check, against the configured origins as they are now.

The widget frame opens `/ws/chat/` from ChatBridge's own origin, so the list is the
deployment's (CHATBRIDGE_ALLOWED_ORIGINS and CHATBRIDGE_PUBLIC_ORIGIN), resolved by
webwidget.origins, the module every other origin check resolves its list with.
"""

from channels.security.websocket import WebsocketDenier
from django.core.exceptions import ValidationError

from webwidget.origins import configured_origins, normalize_origin


def origin_of(scope: dict) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"origin":
            return value.decode("latin1")
    return None


def origin_allowed(origin: str | None) -> bool:
    if not origin:
        return False
    try:
        return normalize_origin(origin) in configured_origins()
    except ValidationError:
        return False


class ConfiguredOriginValidator:
    """Refuses the handshake (HTTP 403) unless the page's Origin is a configured origin."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        if origin_allowed(origin_of(scope)):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
