"""CORS for the REST API, decided per widget (Widget.allows_origin).

- ``/api/v1/widgets/<id>/config`` is public configuration: any origin may read it.
- ``/api/v1/chats/<chat_id>/…``: the origins of the chat's widget (from its Redis record).
- ``/api/v1/widgets/<id>/messages`` (leave a message): the origins of that widget.
- ``/api/v1/chats`` (start): an origin that some enabled widget allows; the start itself then
  checks the body's widget (chatbridge.api.chats), since a preflight carries no body.
- ``/api/v1/widgets/<id>/conversations…`` (a customer's previous conversations): the origins
  of that widget.

ChatBridge's own origin (the widget frame's: the request's, or CHATBRIDGE_PUBLIC_ORIGIN behind a
proxy) is always allowed. A widget's origins are resolved by webwidget.origins. Preflights (OPTIONS with
Access-Control-Request-Method) are answered here, before routing. No credentials mode: the
API authenticates by bearer token only, never by cookie.
"""

import re
from collections.abc import Callable

from asgiref.sync import async_to_sync, iscoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware

from webwidget.origins import public_origin

API_PREFIX = "/api/v1/"
ALLOW_METHODS = "GET, POST, PUT, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, Last-Event-ID"
EXPOSE_HEADERS = "Retry-After, Location, Content-Type"
MAX_AGE = "600"
_CHAT_PATH = re.compile(r"^/api/v1/chats/([^/]+)(/|$)")
_CONFIG_PATH = re.compile(r"^/api/v1/widgets/[^/]+/config$")
_CONVERSATIONS_PATH = re.compile(r"^/api/v1/widgets/([^/]{1,64})/conversations(/|$)")
_LEAVE_PATH = re.compile(r"^/api/v1/widgets/([^/]+)/messages$")


@sync_and_async_middleware
def ApiCorsMiddleware(get_response: Callable) -> Callable:  # noqa: N802 (Django's style)
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            if not request.path.startswith(API_PREFIX) or "Origin" not in request.headers:
                return await get_response(request)
            return await _with_cors(request, get_response)

        return middleware

    # Under WSGI (Django's test client, scripts): the same rules, through a loop.
    def sync_middleware(request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX) or "Origin" not in request.headers:
            return get_response(request)
        return async_to_sync(_with_cors)(request, sync_to_async(get_response))

    return sync_middleware


async def _with_cors(request: HttpRequest, get_response: Callable) -> HttpResponse:
    origin = request.headers["Origin"]
    preflight = request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
    if preflight:
        response = HttpResponse(status=204)
    else:
        response = await get_response(request)
    allowed = await origin_allowed(request, origin)
    if allowed == "*":
        response["Access-Control-Allow-Origin"] = "*"
    elif allowed:
        response["Access-Control-Allow-Origin"] = origin
        _vary(response)
    else:
        _vary(response)
        return response
    if preflight:
        response["Access-Control-Allow-Methods"] = ALLOW_METHODS
        response["Access-Control-Allow-Headers"] = ALLOW_HEADERS
        response["Access-Control-Max-Age"] = MAX_AGE
    else:
        response["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    return response


def own_origin(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}".lower()


def is_own_origin(request: HttpRequest, origin: str) -> bool:
    """Whether the origin is ChatBridge's own: the widget frame's, which calls the API."""
    origin = origin.lower()
    return origin == public_origin() or origin == own_origin(request)


async def origin_allowed(request: HttpRequest, origin: str) -> bool | str:
    """ "*" for public paths, True if the origin may call this path, False otherwise."""
    if _CONFIG_PATH.match(request.path):
        return "*"
    try:
        if is_own_origin(request, origin):
            return True
    except Exception:  # a Host not in ALLOWED_HOSTS: Django refuses the request anyway
        return False
    match = _CHAT_PATH.match(request.path)
    if match:
        widget_id = await _chat_widget_id(match.group(1))
        if widget_id is None:
            return False
        return await _widget_allows(widget_id, origin)
    match = _CONVERSATIONS_PATH.match(request.path) or _LEAVE_PATH.match(request.path)
    if match:
        return await _widget_allows(match.group(1), origin)
    if request.path.rstrip("/") == API_PREFIX + "chats":
        return await _any_widget_allows(origin)
    return False


async def _widget_allows(widget_id: str, origin: str) -> bool:
    """widget_allows() from this process's fresh copy of the widget when it has one: no hop to
    a worker thread, which every cross-origin request would otherwise pay."""
    from webwidget.lookup import cached_widget

    found, widget = cached_widget(widget_id)
    if not found:
        return await sync_to_async(widget_allows)(widget_id, origin)
    return widget is not None and widget.allows_origin(origin)


async def _any_widget_allows(origin: str) -> bool:
    """any_widget_allows(), likewise from the fresh copy when there is one."""
    from webwidget.lookup import cached_widgets

    widgets = cached_widgets()
    if widgets is None:
        return await sync_to_async(any_widget_allows)(origin)
    return any(widget.allows_origin(origin) for widget in widgets)


async def _chat_widget_id(chat_id: str) -> str | None:
    from chatbridge.chats.store import session_store

    if len(chat_id) > 64:
        return None
    return await session_store().widget_id(chat_id)


def widget_allows(widget_id: str, origin: str) -> bool:
    from webwidget.lookup import enabled_widget

    widget = enabled_widget(widget_id)
    return widget is not None and widget.allows_origin(origin)


def any_widget_allows(origin: str) -> bool:
    from webwidget.lookup import enabled_widgets

    return any(widget.allows_origin(origin) for widget in enabled_widgets())


def _vary(response: HttpResponse) -> None:
    existing = response.get("Vary")
    if not existing:
        response["Vary"] = "Origin"
    elif "origin" not in existing.lower():
        response["Vary"] = f"{existing}, Origin"
