"""Around every /api/ request: the per-address rate limit, and problem+json for the answers
that Django or ninja give on their own (unknown paths, 405, uncaught errors)."""

import logging
from collections.abc import Awaitable, Callable

from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware

from chatbridge.api import limits, problems
from chatbridge.errors import ChatBridgeError

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
# The schema and its docs page are not counted against the address's limit.
UNLIMITED_SUFFIXES = ("/openapi.json", "/docs")


@sync_and_async_middleware
def ApiMiddleware(get_response: Callable) -> Callable:  # noqa: N802 (Django's middleware style)
    async def middleware(request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return await get_response(request)
        if request.method != "OPTIONS" and not request.path.endswith(UNLIMITED_SUFFIXES):
            try:
                await limits.per_address(request)
            except ChatBridgeError as error:
                return problems.from_error(error)
        response = await get_response(request)
        return as_problem(request, response)

    if not _is_async(get_response):
        raise RuntimeError("ApiMiddleware needs an ASGI server (daphne, uvicorn).")
    return middleware


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
