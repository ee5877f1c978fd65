"""Around every /api/ request: when it arrived, the per-address rate limits (for a chat's
request, in one round trip with its session token and the chat's limit: chatbridge.api.gate;
for a chat start, in its own first round trip: chatbridge.api.limits), and problem+json for
the answers that Django or ninja give on their own (unknown paths, 405, uncaught errors)."""

import logging
import time
from collections.abc import Awaitable, Callable

from asgiref.sync import async_to_sync
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware

from chatbridge.api import gate, limits, problems
from chatbridge.errors import ChatBridgeError

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
# POST here starts a chat: it counts against the address's chat starts as well.
START_PATH = "/api/v1/chats"
# The schema and its docs page are not counted against the address's limit.
UNLIMITED_SUFFIXES = ("/openapi.json", "/docs")


@sync_and_async_middleware
def ApiMiddleware(get_response: Callable) -> Callable:  # noqa: N802 (Django's middleware style)
    if _is_async(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            if not request.path.startswith(API_PREFIX):
                return await get_response(request)
            request.arrived_at = time.monotonic()  # type: ignore[attr-defined]
            limited = await _limit(request, asgi=True)
            if limited:
                return limited
            response = await get_response(request)
            await gate.settle(request)
            refused = await limits.refusal_of_uncounted_start(request)
            if refused is not None and response.status_code >= 400:
                return problems.from_error(refused)
            return as_problem(request, response)

        return middleware

    # Under WSGI (Django's test client, scripts) the same rules, the limit through a loop that
    # lasts the call: without the gate, which needs the runtime of a loop that lives on, so
    # the request's authentication looks the token up itself.
    def sync_middleware(request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return get_response(request)
        request.arrived_at = time.monotonic()  # type: ignore[attr-defined]
        limited = async_to_sync(_limit)(request)
        return limited or as_problem(request, get_response(request))

    return sync_middleware


async def _limit(request: HttpRequest, *, asgi: bool = False) -> HttpResponse | None:
    """The per-address limit's refusal, or None. Under ASGI a chat start's are counted by its
    first round trip instead (limits.defer_start_windows)."""
    if request.method == "OPTIONS" or request.path.endswith(UNLIMITED_SUFFIXES):
        return None
    starting_chat = request.method == "POST" and request.path == START_PATH
    try:
        if asgi and starting_chat:
            limits.defer_start_windows(request)
            return None
        if asgi and await gate.pass_gate(request):
            return None
        await limits.per_address(request, starting_chat=starting_chat)
    except ChatBridgeError as error:
        return problems.from_error(error)
    return None


def arrived_at(request: HttpRequest) -> float | None:
    """When the API request reached ChatBridge (time.monotonic()), before anything waited."""
    return getattr(request, "arrived_at", None)


def as_problem(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Any 4xx or 5xx that is not problem+json yet, rewritten as one; others untouched."""
    if response.status_code < 400 or problems.is_problem(response):
        return response
    rewritten = problems.for_status(response.status_code, request)
    for header in ("Allow", "Retry-After", "WWW-Authenticate"):
        if header in response:
            rewritten[header] = response[header]
    return rewritten


def _is_async(get_response: Callable[..., Awaitable | HttpResponse]) -> bool:
    from asgiref.sync import iscoroutinefunction

    return iscoroutinefunction(get_response)
