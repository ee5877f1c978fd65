"""Around every /api/ request: when it arrived, the per-address rate limits (for a chat's
request, in one round trip with its session token and the chat's limit: chatbridge.api.gate),
and problem+json for the answers that Django or ninja give on their own (unknown paths, 405,
uncaught errors)."""

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
            limited = await _limit(request, through_gate=True)
            if limited:
                return limited
            response = await get_response(request)
            await gate.settle(request)
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


async def _limit(request: HttpRequest, *, through_gate: bool = False) -> HttpResponse | None:
    """The per-address limit's refusal, or None."""
    if request.method == "OPTIONS" or request.path.endswith(UNLIMITED_SUFFIXES):
        return None
    try:
        if through_gate and await gate.pass_gate(request):
            return None
        await limits.per_address(
            request, starting_chat=request.method == "POST" and request.path == START_PATH
        )
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
